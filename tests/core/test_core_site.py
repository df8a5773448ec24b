"""The site: configuration plus plugins built into objects, with the plugins' complaints path-qualified."""

from collections.abc import Callable
from pathlib import Path

import pytest

from wnod_core.errors import ConfigError, Problem
from wnod_core.paths import resolve_dirs
from wnod_core.plugins import Plugins
from wnod_core.records import BatchSystemPlugin, HypervisorPlugin, ResolverPlugin, Setup
from wnod_core.site import Site
from wnod_core.testing.fakes import BAIT_SIDE

ATLAS = '[host]\nname = "hv01"\n[vm_types.atlas]\nimage = "atlas.img"\n'


def open_site(path: Path, plugins: Plugins) -> Site:
    return Site.open(path, plugins, resolve_dirs())


def raising(exc: BaseException) -> Callable[[Setup], object]:
    def factory(setup: Setup) -> object:
        raise exc

    return factory


@pytest.fixture
def fragile(load_plugins: Callable[..., Plugins], make_plugin, site_resolvers) -> Plugins:
    """Plugins whose factories fail in each way a plugin can."""
    return load_plugins(
        site=site_resolvers,
        fragile=make_plugin(
            wnod_resolvers=lambda: [
                ResolverPlugin(name="value-error", factory=raising(ValueError('map names VM type "lhcb"'))),
                ResolverPlugin(name="type-error", factory=raising(TypeError("expected a list of groups"))),
                ResolverPlugin(name="crashes", factory=raising(RuntimeError("segfault-ish\nmore"))),
                ResolverPlugin(
                    name="config-error",
                    factory=raising(
                        ConfigError([Problem("resolvers[0].file", "no such file", "given.toml")])
                    ),
                ),
            ],
            wnod_batch_systems=lambda: [
                BatchSystemPlugin(name="slurm", bait=BAIT_SIDE, factory=raising(ValueError("no sbatch")))
            ],
            wnod_hypervisors=lambda: [
                HypervisorPlugin(name="libvirt", factory=raising(ValueError("bad uri")))
            ],
        ),
    )


def test_the_chain_is_built_from_the_configured_links_with_their_setup(
    site_config, with_plugins: Plugins
) -> None:
    path = site_config(
        ATLAS
        + '[[resolvers]]\nuse = "by-user"\nusers = { alice = "atlas" }\n[[resolvers]]\nuse = "refuse-all"\n'
    )
    site = open_site(path, with_plugins)
    site.check()
    chain = site.resolver_chain
    assert [link.label for link in chain.links] == ["by-user (resolvers[0])", "refuse-all (resolvers[1])"]
    setup = site.setup("opts", "resolvers[0]")
    assert (setup.options, setup.path, setup.host, set(setup.vm_types)) == (
        "opts",
        "resolvers[0]",
        "hv01",
        {"atlas"},
    )
    assert setup.dirs == resolve_dirs()


def test_a_factory_value_error_becomes_a_path_qualified_problem(site_config, with_plugins: Plugins) -> None:
    path = site_config(ATLAS + '[[resolvers]]\nuse = "by-user"\nusers = { alice = "lhcb" }\n')
    site = open_site(path, with_plugins)  # the options are well-formed; only the plugin knows "lhcb" is wrong
    with pytest.raises(ConfigError) as err:
        site.check()
    assert err.value.problems == [
        Problem("resolvers[0]", 'user alice is mapped to VM type "lhcb", which is not configured', str(path))
    ]


@pytest.mark.parametrize(
    ("use", "problem"),
    [
        ("value-error", 'resolvers[0]: map names VM type "lhcb"'),
        ("type-error", "resolvers[0]: expected a list of groups"),
        ("crashes", "resolvers[0]: plugin failed to start: RuntimeError: segfault-ish"),
        ("config-error", "resolvers[0].file: no such file (in given.toml)"),
    ],
)
def test_each_way_a_factory_fails_reads_as_one_line(
    site_config, fragile: Plugins, use: str, problem: str
) -> None:
    path = site_config(f'[[resolvers]]\nuse = "{use}"\n')
    with pytest.raises(ConfigError) as err:
        open_site(path, fragile).check()
    (found,) = err.value.problems
    assert str(found).startswith(problem)


def test_check_collects_the_problems_of_every_configured_object(site_config, fragile: Plugins) -> None:
    path = site_config(
        '[batch]\nsystem = "slurm"\n[hypervisor]\nbackend = "libvirt"\n[[resolvers]]\nuse = "value-error"\n'
    )
    with pytest.raises(ConfigError) as err:
        open_site(path, fragile).check()
    assert [(p.path, p.message, p.source) for p in err.value.problems] == [
        ("resolvers[0]", 'map names VM type "lhcb"', str(path)),
        ("batch.slurm", "no sbatch", str(path)),
        ("hypervisor.libvirt", "bad uri", str(path)),
    ]


def test_check_reports_every_failing_resolver(site_config, fragile: Plugins) -> None:
    path = site_config('[[resolvers]]\nuse = "value-error"\n[[resolvers]]\nuse = "type-error"\n')
    with pytest.raises(ConfigError) as err:
        open_site(path, fragile).check()
    assert [p.path for p in err.value.problems] == ["resolvers[0]", "resolvers[1]"]


def test_check_builds_only_what_is_selected(site_config, fragile: Plugins) -> None:
    open_site(site_config(ATLAS), fragile).check()


@pytest.mark.parametrize(
    ("attribute", "path"), [("batch_system", "batch.system"), ("hypervisor", "hypervisor.backend")]
)
def test_asking_for_an_unselected_plugin_says_which_key_to_set(
    site_config, with_plugins: Plugins, attribute: str, path: str
) -> None:
    site = open_site(site_config(ATLAS), with_plugins)
    with pytest.raises(ConfigError) as err:
        getattr(site, attribute)
    (problem,) = err.value.problems
    assert problem.path == path
    assert problem.message.startswith("required here: ")


def test_a_working_batch_system_and_hypervisor_get_their_setup(
    site_config, load_plugins, make_plugin
) -> None:
    made: list[Setup] = []

    def factory(setup: Setup) -> object:
        made.append(setup)
        return object()

    plugins = load_plugins(
        both=make_plugin(
            wnod_batch_systems=lambda: [BatchSystemPlugin(name="slurm", bait=BAIT_SIDE, factory=factory)],
            wnod_hypervisors=lambda: [HypervisorPlugin(name="libvirt", factory=factory)],
        )
    )
    site = open_site(
        site_config(ATLAS + '[batch]\nsystem = "slurm"\n[hypervisor]\nbackend = "libvirt"\n'), plugins
    )
    site.check()
    assert site.batch_system is site.batch_system  # built once
    assert [s.path for s in made] == ["batch.slurm", "hypervisor.libvirt"]
    assert all(s.options is None and s.host == "hv01" for s in made)
