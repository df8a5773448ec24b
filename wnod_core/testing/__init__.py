"""Test tools for wnod and its plugins: fixtures, in-memory fakes, and contract suites.

These fakes exist to test code against the interfaces' contracts; they are not a
product feature and wnod never uses them to run jobs.
"""

from .build import build_plugin, structure_options

__all__ = ["build_plugin", "structure_options"]
