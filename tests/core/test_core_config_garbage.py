"""Generated garbage against the config loader: a Config, or a ConfigError of path-qualified
problems — never another exception, never a traceback for the admin."""

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wnod_core.config import load_config
from wnod_core.errors import ConfigError
from wnod_core.plugins import Plugins

KEYS = st.sampled_from([
    "host", "engine", "daemon", "batch", "hypervisor", "vm_types", "resolvers", "name", "vcpus", "memory",
    "max_vwns", "poll_interval", "bait_timeout", "plugin_timeout", "boot_timeout", "image", "reuse", "idle_ttl",
    "socket", "listen", "token_file", "system", "backend", "use", "header_timeout", "max_connections",
    "vwn_hostname", "on_boot_failure", "scratch_layout", "cpuset", "kernel", "blue", "x y", "é",
])
scalars = (st.integers(min_value=-2**70, max_value=2**70) | st.floats() | st.booleans()
           | st.text(max_size=30) | st.sampled_from(["30m", "0s", "2GiB", "nan", "{slot}", "1e300", "-1", "../x"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=4), max_leaves=15)
documents = st.dictionaries(KEYS, values, max_size=6)


def toml(value: object) -> str:
    """`value` as a TOML value (inline tables and arrays; strings as JSON, which TOML reads alike)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


def test_generated_configs_load_or_fail_with_path_qualified_problems(tmp_path: Path) -> None:
    plugins = Plugins.load(installed=False)
    path = tmp_path / "wnod.toml"

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(document=documents, raw=st.binary(max_size=60))
    def one(document: dict, raw: bytes) -> None:
        text = "\n".join(f"{json.dumps(k)} = {toml(v)}" for k, v in document.items()).encode()
        for content in (text, raw, text + b"\n" + raw):
            path.write_bytes(content)
            try:
                load_config([path], plugins)
            except ConfigError as exc:
                assert exc.problems, "a ConfigError names at least one problem"
                for problem in exc.problems:
                    assert isinstance(problem.path, str) and problem.message
                    assert problem.source in ("", str(path))
                    assert "Traceback" not in str(problem)

    one()
