"""Loading the site's configuration: layered files, provenance, and one clear message per mistake."""

from collections.abc import Callable
from pathlib import Path

import pytest

from wnod_core.config import load_config
from wnod_core.errors import ConfigError, Problem
from wnod_core.paths import config_files, resolve_dirs
from wnod_core.plugins import Plugins
from wnod_core.site import Site
from wnod_core.testing.fakes import BAIT_SIDE

GiB = 1024**3

GOOD = """
[host]
name = "hv01"
vcpus = 16
memory = "64GiB"

[vm_types.atlas]
image = "atlas-el9.qcow2"
memory = "4GiB"

[[resolvers]]
use = "by-user"
users = { alice = "atlas" }
"""


def problems(files: list[Path], plugins: Plugins) -> list[Problem]:
    with pytest.raises(ConfigError) as err:
        load_config(files, plugins)
    return err.value.problems


def by_path(found: list[Problem]) -> dict[str, Problem]:
    out = {p.path: p for p in found}
    assert len(out) == len(found), f"two problems at one path: {found}"
    return out


def test_a_good_config_is_loaded_into_values(site_config, with_plugins: Plugins) -> None:
    path = site_config(GOOD)
    config = load_config([path], with_plugins)
    assert config.files == (path,)
    assert (config.host.name, config.host.vcpus, config.host.memory, config.host.max_vwns) == (
        "hv01",
        16,
        64 * GiB,
        8,
    )
    assert config.vm_types["atlas"].memory == 4 * GiB
    assert config.vm_types["atlas"].name == "atlas"
    (link,) = config.resolvers
    assert (link.use, link.path, link.label) == ("by-user", "resolvers[0]", "by-user (resolvers[0])")
    assert link.options.users == {"alice": "atlas"}
    assert config.batch.system is None and config.hypervisor.backend is None


def test_no_file_at_all_is_all_defaults(wnod_home: Path, with_plugins: Plugins) -> None:
    assert config_files() == []
    config = load_config([], with_plugins)
    assert config.vm_types == {} and config.resolvers == () and config.sources == {}
    assert config.host.max_vwns == 8


def test_xdg_files_are_layered_later_wins_and_each_value_keeps_its_source(
    wnod_home: Path, write_config, monkeypatch: pytest.MonkeyPatch, with_plugins: Plugins
) -> None:
    # $XDG_CONFIG_DIRS lists the most important directory first.
    monkeypatch.setenv("XDG_CONFIG_DIRS", f"{wnod_home / 'site'}:{wnod_home / 'vendor'}")
    vendor = write_config(
        "vendor/wnod/wnod.toml",
        """
        [host]
        max_vwns = 2
        name = "vendor-name"
        [vm_types.atlas]
        image = "atlas.img"
        vcpus = 2
        [[resolvers]]
        use = "refuse-all"
        [[resolvers]]
        use = "refuse-all"
    """,
    )
    site = write_config(
        "site/wnod/wnod.toml",
        """
        [host]
        max_vwns = 3
        [vm_types.cms]
        image = "cms.img"
        [[resolvers]]
        use = "by-user"
        users = { bob = "cms" }
    """,
    )
    user = write_config(
        "config/wnod/wnod.toml",
        """
        [host]
        max_vwns = 4
        [vm_types.atlas]
        memory = "8GiB"
    """,
    )
    assert config_files() == [vendor, site, user]
    config = load_config(config_files(), with_plugins)
    assert config.host.max_vwns == 4
    assert config.host.name == "vendor-name"
    assert (config.vm_types["atlas"].image, config.vm_types["atlas"].vcpus) == ("atlas.img", 2)
    assert config.vm_types["atlas"].memory == 8 * GiB
    assert set(config.vm_types) == {"atlas", "cms"}
    # Arrays are replaced whole by a later file, never merged element by element.
    assert [link.use for link in config.resolvers] == ["by-user"]
    assert dict(config.sources) == {
        "host.max_vwns": str(user),
        "host.name": str(vendor),
        "vm_types.atlas.image": str(vendor),
        "vm_types.atlas.vcpus": str(vendor),
        "vm_types.atlas.memory": str(user),
        "vm_types.cms.image": str(site),
        "resolvers[0].use": str(site),
        "resolvers[0].users.bob": str(site),
    }
    # For messages about a key nobody set, the file behind its table when only one file wrote it.
    assert config.source_of("vm_types.cms.vcpus") == str(site)
    assert config.source_of("vm_types.atlas.scratch_size") == ""


def test_an_explicit_config_file_is_read_alone(
    site_config, write_config, with_plugins: Plugins, wnod_home: Path
) -> None:
    site_config('[vm_types.home]\nimage = "home.img"\n')
    write_config("etc-xdg/wnod/wnod.toml", '[vm_types.etc]\nimage = "etc.img"\n')
    assert len(config_files()) == 2
    chosen = write_config("elsewhere.toml", '[vm_types.chosen]\nimage = "chosen.img"\n')
    assert set(Site.open(chosen, with_plugins, resolve_dirs()).config.vm_types) == {"chosen"}
    assert set(Site.open(None, with_plugins, resolve_dirs()).config.vm_types) == {"etc", "home"}


# -- mistakes -------------------------------------------------------------------------------------


def test_a_wrong_size_is_named_by_its_path_and_quoted(site_config, with_plugins: Plugins) -> None:
    path = site_config('[vm_types.atlas]\nimage = "atlas.img"\nmemory = "lots"\n')
    (problem,) = problems([path], with_plugins)
    assert problem == Problem("vm_types.atlas.memory", 'expected a size like "2GiB", got "lots"', str(path))
    assert str(problem) == f'vm_types.atlas.memory: expected a size like "2GiB", got "lots" (in {path})'


def test_an_unknown_key_suggests_the_close_one(site_config, with_plugins: Plugins) -> None:
    path = site_config('[vm_types.atlas]\nimage = "atlas.img"\nmemroy = "2GiB"\n')
    (problem,) = problems([path], with_plugins)
    assert str(problem) == f'vm_types.atlas.memroy: unknown key (did you mean "memory"?) (in {path})'


@pytest.mark.parametrize(
    ("toml", "path", "message"),
    [
        ('[vm_type.atlas]\nimage = "a"\n', "vm_type", 'unknown section (did you mean "vm_types"?)'),
        ("[monitoring]\nx = 1\n", "monitoring", "unknown section"),
        ('[host]\nnmae = "x"\n', "host.nmae", 'unknown key (did you mean "name"?)'),
        ("host = 5\n", "host", "expected a table, got 5"),
        ('[host]\nvcpus = "4"\n', "host.vcpus", 'expected an integer, got "4"'),
        ("[host]\nmax_vwns = true\n", "host.max_vwns", "expected an integer, got True"),
        ("[host]\nmax_vwns = 0\n", "host.max_vwns", "'max_vwns' must be >= 1: 0"),
        ("[host]\nname = 7\n", "host.name", "expected a string, got 7"),
        ('[vm_types.atlas]\nmemory = "2GiB"\n', "vm_types.atlas.image", "required, but missing"),
        ('[vm_types.atlas]\nimage = "../x.img"\n', "vm_types.atlas.image", "no '/' and no '..'"),
        (
            '[vm_types.atlas]\nimage = "a"\ncpuset = "1-"\n',
            "vm_types.atlas.cpuset",
            'expected host CPUs like "2-5"',
        ),
        (
            '[vm_types.atlas]\nimage = "a"\nscratch_layout = "overlayy"\n',
            "vm_types.atlas.scratch_layout",
            "overlayy",
        ),
        ('[vm_types.atlas]\nimage = "a"\nnetwork = 1\n', "vm_types.atlas.network", "got 1"),
        (
            '[vm_types.atlas]\nimage = "a"\nboot_timeout = "later"\n',
            "vm_types.atlas.boot_timeout",
            'expected a duration like "30m" or "1h30m", got "later"',
        ),
        (
            '[vm_types.atlas]\nimage = "a"\n[vm_types.atlas.reuse]\nidle_ttl = "later"\n',
            "vm_types.atlas.reuse.idle_ttl",
            'got "later"',
        ),
        (
            '[vm_types.atlas]\nimage = "a"\n[vm_types.atlas.reuse]\nmax_reuse = 3\n',
            "vm_types.atlas.reuse.max_reuse",
            'unknown key (did you mean "max_reuses"?)',
        ),
        ('[vm_types.Atlas]\nimage = "a"\n', "vm_types.Atlas", "VM type name must be lowercase"),
        ('[vm_types.atlas]\nimage = "a"\nvcpus = 4\nmax_vcpus = 2\n', "vm_types.atlas",
         "max_vcpus (2) is less than vcpus (4), the size of its smallest VWN"),
        ('[vm_types.atlas]\nimage = "a"\nmax_memory = "1GiB"\n', "vm_types.atlas",
         "max_memory (1GiB) is less than memory (2GiB), the size of its smallest VWN"),
        ('[vm_types.atlas]\nimage = "a"\nmemory_step = 0\n', "vm_types.atlas.memory_step",
         "memory_step must be at least one byte"),
        ('[vm_types.atlas]\nname = "x"\nimage = "a"\n', "vm_types.atlas.name", "unknown key"),
        ("vm_types = 3\n", "vm_types", "expected tables like [vm_types.NAME]"),
        ('[resolvers]\nuse = "by-user"\n', "resolvers", "expected an array of tables like [[resolvers]]"),
        ("[[resolvers]]\nusers = {}\n", "resolvers[0].use", "required, but missing"),
        (
            '[[resolvers]]\nuse = "by-usr"\n',
            "resolvers[0].use",
            'no resolver plugin named "by-usr" (did you mean "by-user"?); installed: by-user, refuse-all',
        ),
        (
            '[[resolvers]]\nuse = "by-user"\nuser = {}\n',
            "resolvers[0].user",
            'unknown key (did you mean "users"?)',
        ),
        (
            '[[resolvers]]\nuse = "by-user"\nusers = { alice = 3 }\n',
            "resolvers[0].users.alice",
            "expected a string, got 3",
        ),
        (
            '[[resolvers]]\nuse = "refuse-all"\nusers = {}\n',
            "resolvers[0].users",
            'unknown key: plugin "refuse-all" takes no options',
        ),
        (
            '[batch]\nsystem = "slurm"\n',
            "batch.system",
            'no batch system plugin named "slurm"; installed: none',
        ),
        ('[batch]\nsytem = "slurm"\n', "batch.sytem", 'unknown key (did you mean "system"?)'),
        (
            "[batch.lsf]\nx = 1\n",
            "batch.lsf",
            "options for a plugin that is not used (batch.system is not set)",
        ),
        ('[hypervisor]\nbackend = "Libvirt X"\n', "hypervisor.backend", "must be lowercase"),
        ('hypervisor = "libvirt"\n', "hypervisor", "expected a table"),
    ],
)
def test_each_mistake_is_one_path_qualified_problem(
    site_config, with_plugins: Plugins, toml: str, path: str, message: str
) -> None:
    file = site_config(toml)
    found = by_path(problems([file], with_plugins))
    assert path in found, f"expected a problem at {path}, got {[str(p) for p in found.values()]}"
    assert message in found[path].message
    assert found[path].source == str(file)


def test_options_for_a_plugin_that_is_not_selected(
    site_config, load_plugins: Callable[..., Plugins], make_plugin
) -> None:
    from wnod_core.records import BatchSystemPlugin

    slurm = make_plugin(wnod_batch_systems=lambda: [BatchSystemPlugin(name="slurm", bait=BAIT_SIDE, factory=lambda s: None)])
    file = site_config('[batch]\nsystem = "slurm"\n[batch.lsf]\nqueue = "x"\n[batch.slurm]\nx = 1\n')
    found = by_path(problems([file], load_plugins(slurm=slurm)))
    assert (
        found["batch.lsf"].message == 'options for a plugin that is not used (batch.system selects "slurm")'
    )
    assert found["batch.slurm.x"].message == 'unknown key: plugin "slurm" takes no options'


def test_every_mistake_is_reported_at_once(site_config, with_plugins: Plugins) -> None:
    file = site_config("""
        [hypervisr]
        backend = "libvirt"

        [host]
        vcpus = "many"

        [vm_types.atlas]
        image = "atlas.img"
        memory = "lots"
        memroy = "2GiB"

        [vm_types.cms]
        image = "../cms.img"
        cpuset = "x"

        [[resolvers]]
        use = "by-usr"

        [[resolvers]]
        use = "by-user"
        usrs = {}
    """)
    found = by_path(problems([file], with_plugins))
    assert set(found) == {
        "hypervisr",
        "host.vcpus",
        "vm_types.atlas.memory",
        "vm_types.atlas.memroy",
        "vm_types.cms.image",
        "vm_types.cms.cpuset",
        "resolvers[0].use",
        "resolvers[1].usrs",
    }
    assert all(p.source == str(file) for p in found.values())


def test_each_problem_names_the_file_that_set_the_value(
    wnod_home: Path, write_config, with_plugins: Plugins
) -> None:
    etc = write_config("etc-xdg/wnod/wnod.toml", '[vm_types.atlas]\nimage = "atlas.img"\nmemory = "lots"\n')
    user = write_config("config/wnod/wnod.toml", "[vm_types.atlas]\nvcpus = 0\n")
    found = by_path(problems(config_files(), with_plugins))
    assert found["vm_types.atlas.memory"].source == str(etc)
    assert found["vm_types.atlas.vcpus"].source == str(user)


def test_a_toml_syntax_error_names_the_file_and_the_line(site_config, with_plugins: Plugins) -> None:
    file = site_config('[host]\nname = "hv01"\nvcpus = = 4\n')
    (problem,) = problems([file], with_plugins)
    assert problem.source == str(file)
    assert problem.message.startswith("not valid TOML: ")
    assert "line 3" in problem.message
    assert str(file) in str(problem)


def test_every_broken_file_is_reported_not_just_the_first(write_config, with_plugins: Plugins) -> None:
    one = write_config("one.toml", "[host\n")
    two = write_config("two.toml", "x = \n")
    found = problems([one, two], with_plugins)
    assert [p.source for p in found] == [str(one), str(two)]


def test_an_unreadable_config_file_is_a_config_problem(
    write_config, with_plugins: Plugins, wnod_home: Path
) -> None:
    (problem,) = problems([wnod_home / "missing.toml"], with_plugins)
    assert problem.message.startswith("cannot read config file: ")
    assert problem.source == str(wnod_home / "missing.toml")


def test_config_error_message_lists_one_line_per_problem() -> None:
    err = ConfigError([Problem("a.b", "bad"), Problem("", "not valid TOML", "f.toml")])
    assert str(err) == "a.b: bad\nnot valid TOML (in f.toml)"


def test_a_wrong_choice_lists_the_choices_and_suggests_one(site_config, with_plugins: Plugins) -> None:
    file = site_config('[vm_types.atlas]\nimage = "a"\nscratch_layout = "overlayy"\n')
    (problem,) = problems([file], with_plugins)
    assert problem.message == """expected one of 'raw', 'overlay', got "overlayy" (did you mean "overlay"?)"""


def test_a_plugin_option_of_an_enum_type_is_checked() -> None:
    import attrs

    from wnod_core.config.convert import structure
    from wnod_core.model import Network

    @attrs.frozen
    class Options:
        network: Network = Network.CLOSED

    with pytest.raises(ConfigError) as err:
        structure({"network": "wide-open"}, Options, "hypervisor.libvirt")
    assert err.value.problems[0].path == "hypervisor.libvirt.network"


# -- durations: finite, positive where a zero would spin or stop, bounded -----------------------


@pytest.mark.parametrize(
    ("toml", "path", "message"),
    [
        ("[engine]\npoll_interval = nan\n", "engine.poll_interval", "a finite duration"),
        ("[engine]\npoll_interval = inf\n", "engine.poll_interval", "a finite duration"),
        ('[engine]\npoll_interval = "0s"\n', "engine.poll_interval", "must be longer than 0s"),
        ("[engine]\npoll_interval = 0\n", "engine.poll_interval", "must be longer than 0s"),
        ("[engine]\nbait_timeout = nan\n", "engine.bait_timeout", "a finite duration"),
        ("[engine]\nbait_timeout = inf\n", "engine.bait_timeout", "a finite duration"),
        ("[engine]\nbait_timeout = 1e300\n", "engine.bait_timeout", "at most 366d"),
        ('[engine]\nbait_timeout = "0s"\n', "engine.bait_timeout", "must be longer than 0s"),
        ("[engine]\nplugin_timeout = nan\n", "engine.plugin_timeout", "a finite duration"),
        ('[engine]\nplugin_timeout = "400d"\n', "engine.plugin_timeout", "at most 366d"),
        ('[vm_types.a]\nimage = "a.img"\nboot_timeout = "0s"\n', "vm_types.a.boot_timeout", "longer than 0s"),
        ('[vm_types.a]\nimage = "a.img"\nboot_timeout = inf\n', "vm_types.a.boot_timeout", "a finite duration"),
        ('[vm_types.a]\nimage = "a.img"\n[vm_types.a.reuse]\nidle_ttl = nan\n', "vm_types.a.reuse.idle_ttl",
         "a finite duration"),
    ],
)
def test_a_duration_that_is_not_finite_positive_and_bounded_is_refused_at_its_path(
    site_config, with_plugins: Plugins, toml: str, path: str, message: str
) -> None:
    found = by_path(problems([site_config(toml)], with_plugins))
    assert path in found, f"expected a problem at {path}, got {[str(p) for p in found.values()]}"
    assert message in found[path].message, found[path].message


def test_an_idle_ttl_of_zero_is_allowed(site_config, with_plugins: Plugins) -> None:
    """Zero is a policy there (never keep an idle VWN), not a spin."""
    path = site_config('[vm_types.a]\nimage = "a.img"\n[vm_types.a.reuse]\nidle_ttl = "0s"\n')
    assert load_config([path], with_plugins).vm_types["a"].reuse.idle_ttl == 0
