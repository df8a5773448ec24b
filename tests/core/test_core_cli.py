"""The ``wnod`` CLI in-process: click's CliRunner on ``cli``, and ``main`` for the exit codes of errors.

Installed plugins are never loaded here: ``--no-plugins``, an empty ``WNOD_LOAD_PLUGINS`` or
in-process plugins handed to the CLI (see ``cli_plugins``), so what others install cannot
change these results.
"""

import json
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import wnod_core
from wnod_core.cli import context as cli_context_module
from wnod_core.cli.main import cli, main
from wnod_core.plugins import Plugins

CORE_COMMANDS = ["bait", "batch", "config", "daemon", "drain", "farm", "image", "jobs", "plugins", "render", "resolve", "resume", "status", "vm", "vm-types", "vms"]
PLUGIN_KEYS = ["name", "distribution", "version", "status", "builtin", "provides", "error", "problems"]

SITE = """
[host]
name = "hv01"

[vm_types.atlas]
image = "atlas-el9.qcow2"
memory = "4GiB"

[vm_types.cms]
image = "cms.img"
vcpus = 2

[[resolvers]]
use = "by-user"
users = { alice = "atlas" }
"""


@pytest.fixture(autouse=True)
def no_installed_plugins(wnod_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WNOD_LOAD_PLUGINS", "")


@pytest.fixture
def run() -> Callable[..., Result]:
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def cli_plugins(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """``cli_plugins(name=obj, ...)``: the CLI loads the built-ins plus these in-process plugins.

    The CLI has no parameter for in-process plugins, so the loader its context uses is
    replaced by one that still honours --no-plugins / WNOD_LOAD_PLUGINS for installed ones
    (of which it loads none).
    """

    def use(**named: object) -> None:
        class Loader:
            @staticmethod
            def load(allowed: frozenset[str] | None = None) -> Plugins:
                return Plugins.load(installed=False, allowed=allowed, extra=list(named.items()))

        monkeypatch.setattr(cli_context_module, "Plugins", Loader)

    return use


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The console script's entry point in-process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def test_version(run) -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"wnod {wnod_core.__version__}"


def test_help_lists_the_core_commands(run) -> None:
    result = run("--help")
    assert result.exit_code == 0
    for name in CORE_COMMANDS:
        assert f"  {name}" in result.stdout


# -- plugins --------------------------------------------------------------------------------------


def test_plugins_json_with_no_plugins_lists_the_core_only(run) -> None:
    result = run("--no-plugins", "plugins", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert list(data) == ["wnod_core", "plugins"]
    assert data["wnod_core"] == wnod_core.__version__
    loaded = [p for p in data["plugins"] if p["status"] == "loaded"]
    assert [p["name"] for p in loaded] == ["wnod_core.cli.builtin"]
    for plugin in data["plugins"]:
        assert list(plugin) == PLUGIN_KEYS
        assert plugin["builtin"] or plugin["status"] == "disabled"
    assert loaded[0] == {
        "name": "wnod_core.cli.builtin",
        "distribution": "wnod-core",
        "version": wnod_core.__version__,
        "status": "loaded",
        "builtin": True,
        "provides": {"commands": CORE_COMMANDS},
        "error": None,
        "problems": [],
    }


def test_plugins_lists_a_failed_plugin_with_its_error_and_still_works(
    run, cli_plugins, make_plugin, site_resolvers
) -> None:
    def explode():
        raise RuntimeError("site map unreadable")

    cli_plugins(site=site_resolvers, broken=make_plugin(wnod_resolvers=explode))
    result = run("plugins", "--json")
    assert result.exit_code == 0
    by_name = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
    assert by_name["broken"]["status"] == "failed"
    assert by_name["broken"]["error"] == "failed to register: RuntimeError: site map unreadable"
    assert "traceback" not in by_name["broken"]
    assert by_name["site"]["provides"] == {"resolvers": ["by-user", "refuse-all"]}

    verbose = run("-v", "plugins", "--json")
    by_name = {p["name"]: p for p in json.loads(verbose.stdout)["plugins"]}
    assert "RuntimeError: site map unreadable" in by_name["broken"]["traceback"]

    table = run("plugins")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == ["NAME", "DISTRIBUTION", "VERSION", "STATUS", "PROVIDES"]
    assert (
        "broken ((in-process)) failed: failed to register: RuntimeError: site map unreadable" in table.stderr
    )


def test_a_plugin_command_is_added_and_a_clash_is_reported(run, cli_plugins, make_plugin) -> None:
    hello = click.Command("hello", callback=lambda: click.echo("hello from a plugin"))
    impostor = click.Command("config", callback=lambda: click.echo("hijacked"))
    cli_plugins(extras=make_plugin(wnod_cli_commands=lambda: [hello, impostor]))
    assert "hello" in run("--help").stdout
    assert run("hello").stdout == "hello from a plugin\n"
    assert "hijacked" not in run("config", "--help").output
    table = run("plugins")
    assert (
        'extras ((in-process)): command "config" is already provided by wnod-core; not added' in table.stderr
    )


# -- config ---------------------------------------------------------------------------------------


def test_config_check_passes_a_good_config(run, site_config, cli_plugins, site_resolvers) -> None:
    cli_plugins(site=site_resolvers)
    path = site_config(SITE)
    result = run("config", "check")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"configuration OK — files: {path}")
    assert "2 VM type(s), 1 resolver(s)" in result.stdout


def test_config_check_with_no_file_is_all_defaults(run) -> None:
    result = run("--no-plugins", "config", "check")
    assert result.exit_code == 0
    assert "none found (all defaults)" in result.stdout


def test_config_typo_is_path_qualified_and_exits_nonzero(site_config, capsys) -> None:
    """Done-when: a config with a typo produces the path-qualified error and a non-zero exit."""
    path = site_config('[vm_types.atlas]\nimage = "atlas.img"\nmemroy = "4GiB"\n')
    code, out, err = run_main(capsys, "--no-plugins", "config", "check")
    assert code == 1
    assert "configuration OK" not in out
    assert "wnod: 1 configuration error(s):" in err
    assert f'vm_types.atlas.memroy: unknown key (did you mean "memory"?) (in {path})' in err


def test_config_wrong_type_is_path_qualified_and_exits_nonzero(site_config, capsys) -> None:
    """Done-when: a config with a wrong type produces the path-qualified error and a non-zero exit."""
    path = site_config('[vm_types.atlas]\nimage = "atlas.img"\nmemory = "lots"\nvcpus = "4"\n')
    code, _out, err = run_main(capsys, "--no-plugins", "config", "check")
    assert code == 1
    assert "wnod: 2 configuration error(s):" in err
    assert f'  vm_types.atlas.memory: expected a size like "2GiB", got "lots" (in {path})' in err
    assert f'  vm_types.atlas.vcpus: expected an integer, got "4" (in {path})' in err


def test_a_problem_only_the_plugin_sees_fails_config_check(
    site_config, capsys, cli_plugins, site_resolvers
) -> None:
    cli_plugins(site=site_resolvers)
    path = site_config(SITE.replace('alice = "atlas"', 'alice = "lhcb"'))
    code, _out, err = run_main(capsys, "config", "check")
    assert code == 1
    assert f'resolvers[0]: user alice is mapped to VM type "lhcb", which is not configured (in {path})' in err


def test_config_check_checks_what_the_daemon_checks_at_start(site_config, capsys, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("too-short\n")
    token.chmod(0o644)
    path = site_config(
        f'[daemon]\nlisten = "127.0.0.1:8470"\ntoken_file = "{token}"\nsocket_group = "no-such-group-here"\n'
        f'socket = "{tmp_path}/{"x" * 120}.sock"\n'
    )
    code, out, err = run_main(capsys, "--no-plugins", "config", "check")
    assert code == 1 and "configuration OK" not in out
    assert f"daemon.token_file: {token} may be read by others; chmod 600 it (in {path})" in err
    assert f"daemon.socket_group: no group 'no-such-group-here' on this host (in {path})" in err
    assert "daemon.socket: " in err and "too long for a Unix socket" in err
    token.chmod(0o600)
    code, _out, err = run_main(capsys, "--no-plugins", "config", "check")
    assert "daemon.token_file: the token in" in err and "shorter than 16 characters" in err


def test_every_command_that_reads_the_config_refuses_a_bad_one(site_config, capsys) -> None:
    site_config('[vm_types.atlas]\nimage = "atlas.img"\nmemory = "lots"\n')
    for command in (["config", "show"], ["vm-types"], ["resolve", "--user", "alice"]):
        code, out, err = run_main(capsys, "--no-plugins", *command)
        assert code == 1, command
        assert 'vm_types.atlas.memory: expected a size like "2GiB", got "lots"' in err
        assert out == ""


def test_a_missing_config_file_given_explicitly_is_an_error(wnod_home: Path, capsys) -> None:
    code, _out, err = run_main(
        capsys, "--no-plugins", "--config", str(wnod_home / "nope.toml"), "config", "check"
    )
    assert code == 1
    assert "cannot read config file" in err and "nope.toml" in err


@pytest.mark.parametrize("how", ["flag", "env"])
def test_an_explicit_config_replaces_the_xdg_files(
    run, site_config, write_config, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    site_config('[vm_types.home]\nimage = "home.img"\n')
    chosen = write_config("chosen.toml", '[vm_types.chosen]\nimage = "chosen.img"\n')
    args = ["--no-plugins"]
    if how == "flag":
        args += ["--config", str(chosen)]
    else:
        monkeypatch.setenv("WNOD_CONFIG", str(chosen))
    data = json.loads(run(*args, "vm-types", "--json").stdout)
    assert [t["name"] for t in data["vm_types"]] == ["chosen"]


def test_config_show_json_says_where_each_value_came_from(
    run, site_config, cli_plugins, site_resolvers
) -> None:
    cli_plugins(site=site_resolvers)
    path = site_config(SITE)
    result = run("config", "show", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["files", "config", "sources"]
    assert data["files"] == [str(path)]
    assert {"host", "batch", "hypervisor", "vm_types", "resolvers"} <= set(data["config"])
    assert data["config"]["vm_types"]["atlas"]["memory"] == "4GiB"
    assert data["config"]["vm_types"]["cms"]["memory"] == "2GiB"
    assert data["config"]["resolvers"] == [{"use": "by-user", "users": {"alice": "atlas"}, "note": ""}]
    sources = data["sources"]
    for key in ("host.name", "vm_types.atlas.memory", "vm_types.cms.vcpus", "resolvers[0].use"):
        assert sources[key] == str(path), key
    assert sources["batch"] == sources["hypervisor"] == "default"


def test_config_show_marks_values_nobody_set_as_defaults(
    run, site_config, cli_plugins, site_resolvers
) -> None:
    cli_plugins(site=site_resolvers)
    site_config(SITE)
    sources = json.loads(run("config", "show", "--json").stdout)["sources"]
    assert sources["vm_types.atlas.vcpus"] == "default"
    assert sources["host.max_vwns"] == "default"


def test_config_show_text_has_one_line_per_value(run, site_config) -> None:
    path = site_config('[vm_types.atlas]\nimage = "atlas.img"\n')
    lines = run("--no-plugins", "config", "show").stdout.splitlines()
    assert f'vm_types.atlas.image = "atlas.img"  # {path}' in lines
    assert "resolvers = []  # default" in lines


def test_config_show_without_files_says_where_it_looked(run, wnod_home: Path) -> None:
    first = run("--no-plugins", "config", "show").stdout.splitlines()[0]
    assert first.startswith("# no config file found (looked for ")
    assert str(wnod_home / "config" / "wnod" / "wnod.toml") in first


def test_config_reference_documents_every_core_field(run) -> None:
    result = run("--no-plugins", "config", "reference")
    assert result.exit_code == 0
    text = result.stdout
    for heading in (
        "[host]",
        "[batch]",
        "[hypervisor]",
        "[vm_types.NAME]",
        "[vm_types.NAME.reuse]",
        "[[resolvers]]",
    ):
        assert f"`{heading}`" in text
    assert '| `max_vcpus` | integer | unset | The most virtual CPUs a VWN of this type is made with' in text
    assert "| `max_reuses` | integer | `100` |" in text
    assert '| `scratch_layout` | `"raw"` or `"overlay"` | `"raw"` |' in text
    assert "| `image` | image file name | required |" in text
    assert "| `name` |" in text  # host.name; the VM type's name is its table key and is skipped there
    assert text.count("| `name` |") == 1


def test_config_reference_includes_a_plugins_documented_options(run, cli_plugins, site_resolvers) -> None:
    cli_plugins(site=site_resolvers)
    everything = run("config", "reference").stdout
    assert '[[resolvers]] use = "by-user"' in everything
    only = run("config", "reference", "--plugin", "by-user").stdout
    assert "`[host]`" not in only
    assert "| `users` | table of strings | empty | Unix user name to VM type. |" in only
    assert "refuse-all" not in only
    no_options = run("config", "reference", "--plugin", "refuse-all").stdout
    assert "This plugin takes no options." in no_options
    unknown = run("config", "reference", "--plugin", "by-usr")
    assert unknown.exit_code == 2
    assert 'no loaded plugin provides "by-usr"' in unknown.stderr


# -- vm-types and resolve -------------------------------------------------------------------------


def test_vm_types_json(run, site_config, cli_plugins, site_resolvers) -> None:
    cli_plugins(site=site_resolvers)
    site_config(SITE)
    data = json.loads(run("vm-types", "--json").stdout)
    assert list(data) == ["vm_types"]
    atlas, cms = data["vm_types"]
    assert atlas == {
        "name": "atlas",
        "image": "atlas-el9.qcow2",
        "image_source": "store",
        "vcpus": 1,
        "memory": "4GiB",
        "max_vcpus": None,
        "max_memory": None,
        "memory_step": "1GiB",
        "scratch_size": "10GiB",
        "scratch_layout": "raw",
        "network": "closed",
        "kernel": None,
        "initrd": None,
        "cmdline": "",
        "cpuset": None,
        "boot_timeout": "10m",
        "image_version": "",
        "reuse": {"max_reuses": 100, "idle_ttl": "30m", "scratch_reset": True, "reuse_scope": "user"},
    }
    assert (cms["name"], cms["vcpus"]) == ("cms", 2)


def test_vm_types_table(run, site_config) -> None:
    site_config('[vm_types.atlas]\nimage = "atlas.img"\nmemory = "4GiB"\n'
                '[vm_types.multi]\nimage = "atlas.img"\nvcpus = 2\nmax_vcpus = 8\nmax_memory = "32GiB"\n')
    lines = run("--no-plugins", "vm-types").stdout.splitlines()
    assert lines[2].split()[:4] == ["multi", "atlas.img", "2-8", "2GiB-32GiB"]
    assert lines[0].split() == ["NAME", "IMAGE", "VCPUS", "MEMORY", "SCRATCH", "NETWORK", "REUSE"]
    assert lines[1].split() == [
        "atlas",
        "atlas.img",
        "1",
        "4GiB",
        "10GiB",
        "raw",
        "closed",
        "100x,",
        "idle",
        "30m",
    ]


def test_resolve_names_the_type_and_the_resolver(run, site_config, cli_plugins, site_resolvers) -> None:
    cli_plugins(site=site_resolvers)
    site_config(SITE)
    result = run("resolve", "--user", "alice", "--group", "atlas", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "outcome": "resolved",
        "vm_type": "atlas",
        "resolver": "by-user (resolvers[0])",
        "reason": "user alice is mapped to atlas",
    }
    text = run("resolve", "--user", "alice")
    assert text.exit_code == 0
    assert text.stdout.splitlines() == [
        "VM type: atlas",
        "decided by: by-user (resolvers[0])",
        "because: user alice is mapped to atlas",
    ]


def test_resolve_exits_3_when_nobody_maps_the_job(run, site_config, cli_plugins, site_resolvers) -> None:
    cli_plugins(site=site_resolvers)
    site_config(SITE)
    result = run(
        "resolve",
        "--user",
        "bob",
        "--group",
        "cms",
        "--group",
        "users",
        "--queue",
        "long",
        "--type",
        "cms",
        "--json",
    )
    assert result.exit_code == 3
    assert json.loads(result.stdout) == {
        "outcome": "refused",
        "vm_type": None,
        "resolver": None,
        "reason": 'no VM type for user bob (groups cms, users) in queue long asking for VM type "cms":'
        " no resolver of this site maps such jobs to a VM type",
    }


def test_resolve_exits_3_when_a_resolver_refuses(run, site_config, cli_plugins, site_resolvers) -> None:
    cli_plugins(site=site_resolvers)
    site_config(SITE + '\n[[resolvers]]\nuse = "refuse-all"\n')
    result = run("resolve", "--user", "bob")
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [
        "refused: user bob may not run here",
        "decided by: refuse-all (resolvers[1])",
    ]


def test_resolve_without_resolvers_says_so_and_exits_3(run) -> None:
    result = run("--no-plugins", "resolve", "--user", "alice")
    assert result.exit_code == 3
    assert result.stdout == "refused: no VM type for user alice: this host has no resolvers configured\n"


def test_resolve_needs_a_user(run) -> None:
    result = run("--no-plugins", "resolve")
    assert result.exit_code == 2
    assert "--user" in result.stderr
