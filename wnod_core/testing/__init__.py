"""Test tools for wnod and its plugins: fixtures, in-memory fakes, and contract suites.

These fakes exist to test code against the interfaces' contracts; they are not a
product feature and wnod never uses them to run jobs.
"""

from .build import build_plugin, structure_options
from .fakes import FakeBatchSystem, FakeHypervisor, FakePlugin

__all__ = ["FakeBatchSystem", "FakeHypervisor", "FakePlugin", "build_plugin", "structure_options"]
