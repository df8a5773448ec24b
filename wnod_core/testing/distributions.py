"""Hand-made plugin distributions, for tests that run ``wnod`` as its own process.

A distribution made here is real as far as Python packaging goes: a ``*.dist-info``
folder with METADATA and entry_points.txt (and, if given, its modules) in a folder put
on the process's PYTHONPATH — exactly what importlib.metadata finds for a pip-installed
plugin. Only its code may be made up. Test tools, not product features.
"""

import os
import textwrap
from collections.abc import Mapping
from pathlib import Path

from .. import PROJECT

SHARED_FAKES_DISTRIBUTION = "wnod-shared-fakes"
"""The throw-away distribution whose entry point loads the shared fakes' plugin module."""
SHARED_FAKES_MODULE = "wnod_core.testing.fakes.shared_plugin"


def write_distribution(
    site: Path,
    name: str,
    entry_points: Mapping[str, str],
    *,
    version: str = "0.1.0",
    group: str = PROJECT,
    modules: Mapping[str, str] | None = None,
) -> Path:
    """Install distribution `name` into the folder `site`; returns its ``*.dist-info`` folder.

    `entry_points` maps entry names to their ``module[:attr]`` in `group` (``wnod``);
    `modules` maps top-level module names to their source, written beside it.
    """
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "".join(f"{entry} = {target}\n" for entry, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}")
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    return info


def with_pythonpath(site: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `base` (``os.environ``) with `site` first on PYTHONPATH."""
    environ = dict(os.environ if base is None else base)
    rest = environ.get("PYTHONPATH", "")
    environ["PYTHONPATH"] = os.pathsep.join([str(site), *([rest] if rest else [])])
    return environ


def shared_fakes_environ(site: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment in which ``wnod`` loads the "shared-fake" batch system and hypervisor.

    Writes the ``wnod-shared-fakes`` distribution into the folder `site` (its entry point
    loads ``wnod_core.testing.fakes.shared_plugin``) and returns a copy of `base`
    (``os.environ``) with `site` on PYTHONPATH. Only processes started with that
    environment see the fakes: wnod-core itself never installs them.
    """
    if not (site / f"{SHARED_FAKES_DISTRIBUTION.replace('-', '_')}-0.dist-info").exists():
        write_distribution(
            site, SHARED_FAKES_DISTRIBUTION, {"shared-fakes": SHARED_FAKES_MODULE}, version="0"
        )
    return with_pythonpath(site, base)
