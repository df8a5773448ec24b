"""The plugin facade: plugins declare, the core validates, and one bad plugin never takes wnod down."""

import logging
import types
from collections.abc import Callable
from importlib.metadata import EntryPoint

import attrs
import click
import pytest

import wnod_core
from wnod_core.errors import PluginError
from wnod_core.model import Vwn, VwnState
from wnod_core.model.events import JobStep, JobStepped, VwnChanged
from wnod_core.plugins import Plugins, Status, entrypoints, manager
from wnod_core.plugins.entrypoints import Candidate, allowed_from_env, is_allowed
from wnod_core.records import BatchSystemPlugin, HypervisorPlugin, ResolverPlugin
from wnod_core.testing.fakes import BAIT_SIDE

CORE_COMMANDS = {"bait", "config", "daemon", "drain", "batch", "farm", "image", "jobs", "plugins", "render", "resolve", "resume", "status", "vm", "vm-types", "vms"}


def report_of(plugins: Plugins, name: str):
    (report,) = [r for r in plugins.reports() if r.name == name]
    return report


def resolver_record(name: str) -> ResolverPlugin:
    return ResolverPlugin(name=name, factory=lambda setup: None)


# -- records --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "normal"), [("By_User", "by-user"), (" by-group ", "by-group"), ("QUEUE", "queue")]
)
def test_record_names_are_normalised(given: str, normal: str) -> None:
    assert resolver_record(given).name == normal


@pytest.mark.parametrize("name", ["by user", "-x", "", "ü", "x" * 64])
def test_record_names_that_cannot_be_used_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="plugin name must be lowercase"):
        resolver_record(name)


def test_record_name_must_be_a_string_and_options_an_attrs_class() -> None:
    with pytest.raises(TypeError, match="plugin name must be a string"):
        resolver_record(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="options must be an attrs class"):
        ResolverPlugin(name="x", factory=lambda s: None, options=dict)


# -- loading --------------------------------------------------------------------------------------


def test_builtins_load_and_provide_the_core_commands(load_plugins: Callable[..., Plugins]) -> None:
    plugins = load_plugins()
    (core,) = plugins.reports()
    assert (core.name, core.distribution, core.status, core.builtin) == (
        "wnod_core.cli.builtin",
        "wnod-core",
        Status.LOADED,
        True,
    )
    assert set(plugins.commands()) == CORE_COMMANDS
    assert plugins.resolvers() == plugins.batch_systems() == plugins.hypervisors() == {}


def test_an_in_process_plugin_is_indexed_by_kind_and_name(with_plugins: Plugins) -> None:
    assert set(with_plugins.resolvers()) == {"by-user", "refuse-all"}
    assert with_plugins.lookup("resolvers", "by-user").name == "by-user"
    site = report_of(with_plugins, "site")
    assert site.status is Status.LOADED
    assert site.distribution == "(in-process)"
    assert site.provides == {"resolvers": ("by-user", "refuse-all")}


def test_every_kind_of_record_is_collected(load_plugins: Callable[..., Plugins], make_plugin) -> None:
    plugin = make_plugin(
        wnod_batch_systems=lambda: [BatchSystemPlugin(name="Slurm", bait=BAIT_SIDE, factory=lambda s: None)],
        wnod_hypervisors=lambda: [HypervisorPlugin(name="libvirt", factory=lambda s: None)],
        wnod_resolvers=lambda: None,  # a hook may return nothing
        wnod_cli_commands=lambda: [click.Command("site-report")],
    )
    plugins = load_plugins(site=plugin)
    assert set(plugins.batch_systems()) == {"slurm"}
    assert set(plugins.hypervisors()) == {"libvirt"}
    assert set(plugins.commands()) == CORE_COMMANDS | {"site-report"}
    assert report_of(plugins, "site").provides == {
        "batch_systems": ("slurm",),
        "hypervisors": ("libvirt",),
        "commands": ("site-report",),
    }


def test_a_name_provided_twice_is_reported_on_both_and_used_by_neither(
    load_plugins: Callable[..., Plugins], site_resolvers, make_plugin
) -> None:
    rival = make_plugin(wnod_resolvers=lambda: [resolver_record("By_User")])
    plugins = load_plugins(site=site_resolvers, rival=rival)
    assert "by-user" not in plugins.resolvers()
    assert "refuse-all" in plugins.resolvers()  # the rest of the plugin still works
    for name in ("site", "rival"):
        report = report_of(plugins, name)
        assert report.status is Status.LOADED
        (problem,) = report.problems
        assert 'resolver "by-user" is provided by' in problem
        assert "(site)" in problem and "(rival)" in problem
        assert "none of them is used" in problem
    with pytest.raises(PluginError) as err:
        plugins.lookup("resolvers", "by-user")
    assert "(in-process) (site)" in str(err.value) and "(in-process) (rival)" in str(err.value)
    assert "uninstall all but one" in str(err.value)


def test_a_hook_that_raises_fails_its_plugin_only(
    load_plugins: Callable[..., Plugins], site_resolvers, make_plugin
) -> None:
    def explode():
        raise RuntimeError("cannot read /etc/site-map\nsecond line")

    heard = []
    broken = make_plugin(wnod_resolvers=explode, wnod_job_step=lambda event: heard.append(event))
    plugins = load_plugins(broken=broken, site=site_resolvers)
    report = report_of(plugins, "broken")
    assert report.status is Status.FAILED
    assert report.error == "failed to register: RuntimeError: cannot read /etc/site-map"
    assert "RuntimeError" in report.traceback
    assert report.provides == {}
    assert set(plugins.resolvers()) == {"by-user", "refuse-all"}
    assert report_of(plugins, "site").status is Status.LOADED
    plugins.job_step(JobStepped(job_id="1", step=JobStep.STARTED, at=1.0, host="hv01"))
    assert heard == [], "a failed plugin must not be called any more"


def test_a_failed_plugin_gives_up_everything_it_declared(
    load_plugins: Callable[..., Plugins], make_plugin
) -> None:
    def commands():
        raise RuntimeError("oops")

    half = make_plugin(wnod_resolvers=lambda: [resolver_record("half")], wnod_cli_commands=commands)
    plugins = load_plugins(half=half)
    assert report_of(plugins, "half").status is Status.FAILED
    assert "half" not in plugins.resolvers()


@pytest.mark.parametrize(
    ("hook", "garbage", "expected"),
    [
        ("wnod_resolvers", "hello", "expected ResolverPlugin records"),
        (
            "wnod_resolvers",
            BatchSystemPlugin(name="slurm", bait=BAIT_SIDE, factory=lambda s: None),
            "expected ResolverPlugin records",
        ),
        ("wnod_hypervisors", {"name": "libvirt"}, "expected HypervisorPlugin records"),
        ("wnod_batch_systems", None, "expected BatchSystemPlugin records"),
        ("wnod_cli_commands", "site-report", "expected named click commands"),
        ("wnod_cli_commands", click.Command(None), "expected named click commands"),
    ],
)
def test_a_garbage_record_fails_its_plugin_with_a_clear_error(
    load_plugins: Callable[..., Plugins],
    make_plugin,
    site_resolvers,
    hook: str,
    garbage: object,
    expected: str,
) -> None:
    plugins = load_plugins(sloppy=make_plugin(**{hook: lambda: [garbage]}), site=site_resolvers)
    report = report_of(plugins, "sloppy")
    assert report.status is Status.FAILED
    assert report.error.startswith("failed to register: PluginError: ")
    assert repr(garbage) in report.error
    assert expected in report.error
    assert set(plugins.resolvers()) == {"by-user", "refuse-all"}


def test_a_misspelled_hook_fails_the_plugin_with_did_you_mean(load_plugins: Callable[..., Plugins]) -> None:
    class Typo:
        @wnod_core.hookimpl
        def wnod_resolver(self):
            yield resolver_record("typo")

    plugins = load_plugins(typo=Typo())
    report = report_of(plugins, "typo")
    assert report.status is Status.FAILED
    assert report.error == 'implements unknown hooks: wnod_resolver (did you mean "wnod_resolvers"?)'
    assert plugins.resolvers() == {}


class WrongArgs:
    @wnod_core.hookimpl
    def wnod_vwn_changed(self, evnt):
        pass


def test_a_hook_with_wrong_arguments_cannot_be_registered(
    load_plugins: Callable[..., Plugins], site_resolvers
) -> None:
    plugins = load_plugins(wrong=WrongArgs(), site=site_resolvers)
    report = report_of(plugins, "wrong")
    assert report.status is Status.FAILED
    assert report.error.startswith("cannot be registered: PluginValidationError: ")
    assert "evnt" in report.traceback
    assert report_of(plugins, "site").status is Status.LOADED
    assert set(plugins.resolvers()) == {"by-user", "refuse-all"}


def test_the_one_line_error_says_what_is_wrong_with_the_hook(load_plugins: Callable[..., Plugins]) -> None:
    report = report_of(load_plugins(wrong=WrongArgs()), "wrong")
    assert "evnt" in report.error


def test_a_plugin_module_may_import_wnod_core(load_plugins: Callable[..., Plugins]) -> None:
    module = types.ModuleType("site_plugin")
    module.wnod_core = wnod_core  # what `import wnod_core` at the top of a plugin module leaves behind

    @wnod_core.hookimpl
    def wnod_resolvers():
        yield resolver_record("site-map")

    module.wnod_resolvers = wnod_resolvers
    plugins = load_plugins(site_plugin=module)
    assert report_of(plugins, "site_plugin").error == ""
    assert "site-map" in plugins.resolvers()


def test_looking_up_an_unknown_name_suggests_the_close_one(with_plugins: Plugins) -> None:
    with pytest.raises(PluginError) as err:
        with_plugins.lookup("resolvers", "by-usr")
    assert (
        str(err.value)
        == 'no resolver plugin named "by-usr" (did you mean "by-user"?); installed: by-user, refuse-all'
    )
    with pytest.raises(PluginError, match=r'no batch system plugin named "slurm"; installed: none$'):
        with_plugins.lookup("batch_systems", "slurm")


def test_a_plugin_cannot_replace_a_core_command(load_plugins: Callable[..., Plugins], make_plugin) -> None:
    impostor = click.Command("config", callback=lambda: None)
    plugins = load_plugins(impostor=make_plugin(wnod_cli_commands=lambda: [impostor, click.Command("extra")]))
    assert plugins.commands()["config"] is not impostor
    assert plugins.commands()["config"].name == "config"
    assert "extra" in plugins.commands()
    report = report_of(plugins, "impostor")
    assert report.status is Status.LOADED
    assert report.problems == ('command "config" is already provided by wnod-core; not added',)


def test_two_plugins_adding_one_command_keep_the_first_and_report_the_second(
    load_plugins: Callable[..., Plugins], make_plugin
) -> None:
    first, second = click.Command("site-report"), click.Command("site-report")
    plugins = load_plugins(
        one=make_plugin(wnod_cli_commands=lambda: [first]),
        two=make_plugin(wnod_cli_commands=lambda: [second]),
    )
    assert plugins.commands()["site-report"] is first
    assert report_of(plugins, "one").problems == ()
    assert report_of(plugins, "two").problems == (
        'command "site-report" is already provided by (in-process); not added',
    )


# -- broadcasts -----------------------------------------------------------------------------------


def a_vwn_change() -> VwnChanged:
    vwn = Vwn(
        id="vwn-1", host="hv01", vm_type="atlas", state=VwnState.BOOTING, created_at=1.0, updated_at=2.0
    )
    return VwnChanged(vwn=vwn, previous=VwnState.CREATING, at=2.0)


def a_job_step() -> JobStepped:
    return JobStepped(job_id="4242", step=JobStep.VWN_READY, at=3.0, host="hv01", vm_type="atlas")


@pytest.mark.parametrize(
    ("hook", "call", "event"),
    [("wnod_vwn_changed", "vwn_changed", a_vwn_change()), ("wnod_job_step", "job_step", a_job_step())],
)
@pytest.mark.parametrize("raiser_position", [0, 1, 2])
def test_a_broadcast_reaches_every_plugin_even_when_one_raises(
    load_plugins: Callable[..., Plugins],
    make_plugin,
    caplog: pytest.LogCaptureFixture,
    hook: str,
    call: str,
    event: object,
    raiser_position: int,
) -> None:
    heard: list[tuple[str, object]] = []

    def listener(name: str):
        return make_plugin(**{hook: lambda event: heard.append((name, event))})

    def raiser(event):
        raise RuntimeError("monitoring is down")

    named = {"a": listener("a"), "b": listener("b")}
    items = list(named.items())
    items.insert(raiser_position, ("noisy", make_plugin(**{hook: raiser})))
    plugins = load_plugins(**dict(items))
    with caplog.at_level(logging.ERROR, logger="wnod.plugins"):
        getattr(plugins, call)(event)
    assert sorted(heard, key=lambda h: h[0]) == [("a", event), ("b", event)]
    assert any("noisy" in r.getMessage() and hook in r.getMessage() for r in caplog.records)


def test_a_broadcast_with_no_listener_is_quiet(load_plugins: Callable[..., Plugins]) -> None:
    plugins = load_plugins()
    plugins.vwn_changed(a_vwn_change())
    plugins.job_step(a_job_step())


# -- what to load ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", frozenset()),
        ("  ", frozenset()),
        ("wnod-resolvers", frozenset({"wnod-resolvers"})),
        (" a, b ,,c ", frozenset({"a", "b", "c"})),
    ],
)
def test_wnod_load_plugins_is_read_as_a_name_list(monkeypatch: pytest.MonkeyPatch, value, expected) -> None:
    if value is None:
        monkeypatch.delenv("WNOD_LOAD_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("WNOD_LOAD_PLUGINS", value)
    assert allowed_from_env() == expected


def test_allowed_names_match_entry_point_or_distribution_in_any_spelling() -> None:
    installed = Candidate(name="group_file", distribution="wnod-site-groupfile", version="1", builtin=False)
    builtin = Candidate(name="wnod_core.cli.builtin", distribution="wnod-core", version="1", builtin=True)
    assert is_allowed(installed, None)
    assert not is_allowed(installed, frozenset())
    assert is_allowed(installed, frozenset({"group-file"}))
    assert is_allowed(installed, frozenset({"WNOD_site_groupfile"}))
    assert not is_allowed(installed, frozenset({"wnod-resolvers"}))
    assert is_allowed(builtin, frozenset())


def test_an_empty_allow_list_disables_every_installed_plugin() -> None:
    plugins = Plugins.load(allowed=frozenset())
    for report in plugins.reports():
        assert report.status is (Status.LOADED if report.builtin else Status.DISABLED), report
        assert report.builtin or report.provides == {}
    assert plugins.resolvers() == {}
    assert set(plugins.commands()) == CORE_COMMANDS


def test_the_environment_list_applies_when_no_allow_list_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WNOD_LOAD_PLUGINS", "")
    assert all(r.builtin or r.status is Status.DISABLED for r in Plugins.load().reports())


def test_an_installed_plugin_that_cannot_be_imported_is_reported_and_skipped(
    monkeypatch: pytest.MonkeyPatch, site_resolvers
) -> None:
    broken = Candidate(
        name="broken",
        distribution="wnod-broken",
        version="0.0.1",
        builtin=False,
        entry_point=EntryPoint(name="broken", value="wnod_surely_missing_module:plugin", group="wnod"),
    )
    monkeypatch.setattr(manager, "installed_candidates", lambda: iter([broken]))
    plugins = Plugins.load(allowed=None, extra=[("site", site_resolvers)])
    report = report_of(plugins, "broken")
    assert (report.status, report.distribution, report.version) == (Status.FAILED, "wnod-broken", "0.0.1")
    assert report.error.startswith("cannot be imported: ModuleNotFoundError: ")
    assert "wnod_surely_missing_module" in report.error
    assert "Traceback" in report.traceback
    assert set(plugins.resolvers()) == {"by-user", "refuse-all"}
    assert set(plugins.commands()) == CORE_COMMANDS


def test_the_builtins_are_found_like_plugins() -> None:
    (candidate,) = entrypoints.builtin_candidates()
    assert candidate.builtin and candidate.distribution == "wnod-core"
    assert candidate.version == wnod_core.__version__


def test_report_json_is_stable(load_plugins: Callable[..., Plugins], make_plugin) -> None:
    def explode():
        raise RuntimeError("boom")

    plugins = load_plugins(broken=make_plugin(wnod_resolvers=explode))
    report = report_of(plugins, "broken")
    plain = report.to_json()
    assert list(plain) == [
        "name",
        "distribution",
        "version",
        "status",
        "builtin",
        "provides",
        "error",
        "problems",
    ]
    assert plain["status"] == "failed" and plain["error"] == report.error
    verbose = report.to_json(with_traceback=True)
    assert "RuntimeError: boom" in verbose["traceback"]
    assert report_of(plugins, "wnod_core.cli.builtin").to_json(with_traceback=True)["traceback"] is None
    assert attrs.asdict(report)["name"] == "broken"
