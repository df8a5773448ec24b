"""How the facade calls hooks: through pluggy, so that pluggy's order holds; each plugin's failure its own."""

import logging
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import wnod_core
from wnod_core.errors import PluginError
from wnod_core.hookspecs import hookspec
from wnod_core.model.events import JobStep, JobStepped
from wnod_core.plugins import Plugins, Status
from wnod_core.plugins.calls import Hooks
from wnod_core.records import BatchSystemPlugin, HypervisorPlugin, ResolverPlugin

STEP = JobStepped(job_id="4242", step=JobStep.STARTED, at=3.0, host="hv01")


def report_of(plugins: Plugins, name: str):
    (report,) = [r for r in plugins.reports() if r.name == name]
    return report


def listener(heard: list[Any], name: str, **marks: bool) -> types.SimpleNamespace:
    """A plugin that notes its name when it hears a job step, and answers with it."""

    def wnod_job_step(event):
        heard.append(name)
        return name

    return types.SimpleNamespace(wnod_job_step=wnod_core.hookimpl(**marks)(wnod_job_step))


def plugin_of(hook: str, function: Callable[..., Any], **marks: bool) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{hook: wnod_core.hookimpl(**marks)(function)})


# -- pluggy's order --------------------------------------------------------------------------------


def test_the_plugin_registered_last_hears_first(load_plugins: Callable[..., Plugins]) -> None:
    heard: list[str] = []
    plugins = load_plugins(a=listener(heard, "a"), b=listener(heard, "b"), c=listener(heard, "c"))
    plugins.job_step(STEP)
    assert heard == ["c", "b", "a"]


def test_a_tryfirst_listener_hears_before_the_others(load_plugins: Callable[..., Plugins]) -> None:
    heard: list[str] = []
    plugins = load_plugins(
        early=listener(heard, "early", tryfirst=True), a=listener(heard, "a"), b=listener(heard, "b")
    )
    plugins.job_step(STEP)
    assert heard == ["early", "b", "a"]


def test_a_trylast_listener_hears_after_the_others(load_plugins: Callable[..., Plugins]) -> None:
    heard: list[str] = []
    plugins = load_plugins(
        a=listener(heard, "a"), b=listener(heard, "b"), late=listener(heard, "late", trylast=True)
    )
    plugins.job_step(STEP)
    assert heard == ["b", "a", "late"]


def test_a_wrapper_runs_around_the_others_and_sees_their_answers(
    load_plugins: Callable[..., Plugins],
) -> None:
    heard: list[Any] = []

    def wnod_job_step(event):
        heard.append("before")
        answers = yield
        heard.append(("after", answers))
        return answers

    # Registered first, so that registration order alone would make it hear last.
    plugins = load_plugins(
        around=plugin_of("wnod_job_step", wnod_job_step, wrapper=True),
        a=listener(heard, "a"),
        b=listener(heard, "b"),
    )
    plugins.job_step(STEP)
    assert heard == ["before", "b", "a", ("after", ["b", "a"])]


def test_an_old_style_hookwrapper_runs_around_the_others_and_sees_their_outcome(
    load_plugins: Callable[..., Plugins],
) -> None:
    heard: list[Any] = []

    def wnod_job_step(event):
        heard.append("before")
        outcome = yield
        heard.append(("after", outcome.get_result()))

    plugins = load_plugins(
        around=plugin_of("wnod_job_step", wnod_job_step, hookwrapper=True),
        a=listener(heard, "a"),
        b=listener(heard, "b"),
    )
    plugins.job_step(STEP)
    assert heard == ["before", "b", "a", ("after", ["b", "a"])]


class PickSpecs:
    """A first-result hook, which wnod's own hookspecs do not have (yet)."""

    @hookspec(firstresult=True)
    def wnod_pick(self) -> str | None:
        """First result: the first plugin with an answer decides."""


def answering(asked: list[str], name: str, answer: object) -> types.SimpleNamespace:
    def wnod_pick():
        asked.append(name)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return plugin_of("wnod_pick", wnod_pick)


def test_a_first_result_hook_stops_at_the_first_answer() -> None:
    hooks, asked, failures = Hooks(PickSpecs), [], []
    for name, answer in [("never-asked", "vm-b"), ("first", "vm-a"), ("no-opinion", None)]:
        hooks.register(answering(asked, name, answer), name, on_failure=lambda *f: failures.append(f))
    assert hooks.call.wnod_pick() == "vm-a"
    assert asked == ["no-opinion", "first"]
    assert failures == []


def test_a_first_result_hook_asks_the_next_plugin_when_one_raises() -> None:
    hooks, asked, failures = Hooks(PickSpecs), [], []
    boom = RuntimeError("directory is down")
    for name, answer in [("fallback", "vm-b"), ("broken", boom)]:
        hooks.register(answering(asked, name, answer), name, on_failure=lambda *f: failures.append(f))
    assert hooks.call.wnod_pick() == "vm-b"
    assert asked == ["broken", "fallback"]
    assert failures == [("wnod_pick", boom)]


def test_a_wrapper_may_change_the_answer_of_a_first_result_hook() -> None:
    hooks, asked = Hooks(PickSpecs), []

    def louder():
        answer = yield
        return f"{answer}-large"

    hooks.register(answering(asked, "first", "vm-a"), "first", on_failure=pytest.fail)
    hooks.register(plugin_of("wnod_pick", louder, wrapper=True), "louder", on_failure=pytest.fail)
    assert hooks.call.wnod_pick() == "vm-a-large"


# -- one plugin's failure is its own ---------------------------------------------------------------


def _raises_before(event):
    raise RuntimeError("monitoring is down")
    yield


def _raises_after(event):
    yield
    raise RuntimeError("monitoring is down")


def _never_yields(event):
    return
    yield


def _forces_an_exception(event):
    outcome = yield
    outcome.force_exception(RuntimeError("monitoring is down"))


def _yields_twice(event):
    yield
    yield


@pytest.mark.parametrize(
    ("function", "mark", "error"),
    [
        (_raises_before, "wrapper", "RuntimeError: monitoring is down"),
        (_raises_after, "wrapper", "RuntimeError: monitoring is down"),
        (_never_yields, "wrapper", "did not yield"),
        (_yields_twice, "wrapper", "yielded twice"),
        (_raises_before, "hookwrapper", "RuntimeError: monitoring is down"),
        (_raises_after, "hookwrapper", "RuntimeError: monitoring is down"),
        (_never_yields, "hookwrapper", "did not yield"),
        (_forces_an_exception, "hookwrapper", "RuntimeError: monitoring is down"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_a_wrapper_that_fails_is_named_and_the_others_still_hear(
    load_plugins: Callable[..., Plugins],
    caplog: pytest.LogCaptureFixture,
    function: Callable[..., Iterator[None]],
    mark: str,
    error: str,
) -> None:
    heard: list[str] = []
    plugins = load_plugins(
        a=listener(heard, "a"),
        broken=plugin_of("wnod_job_step", function, **{mark: True}),
        b=listener(heard, "b"),
    )
    with caplog.at_level(logging.ERROR, logger="wnod.plugins"):
        plugins.job_step(STEP)  # does not raise: a listener never stops the flow
    assert heard == ["b", "a"]
    (record,) = [r for r in caplog.records if r.name == "wnod.plugins"]
    assert record.getMessage() == "plugin (in-process):broken failed in wnod_job_step; carrying on"
    assert error in caplog.text


def test_a_listener_that_raises_is_still_asked_next_time(load_plugins: Callable[..., Plugins]) -> None:
    calls: list[int] = []

    def flaky(event):
        calls.append(1)
        raise RuntimeError("monitoring is down")

    heard: list[str] = []
    plugins = load_plugins(flaky=plugin_of("wnod_job_step", flaky), a=listener(heard, "a"))
    plugins.job_step(STEP)
    plugins.job_step(STEP)
    assert (len(calls), heard) == (2, ["a", "a"])
    assert report_of(plugins, "flaky").status is Status.LOADED


def test_a_plugin_whose_registration_hook_raises_is_not_asked_the_next_one(
    load_plugins: Callable[..., Plugins], site_resolvers
) -> None:
    asked: list[str] = []

    def resolvers():
        raise RuntimeError("cannot read /etc/site-map")

    def commands():
        asked.append("commands")
        return []

    broken = types.SimpleNamespace(
        wnod_resolvers=wnod_core.hookimpl(resolvers), wnod_cli_commands=wnod_core.hookimpl(commands)
    )
    plugins = load_plugins(broken=broken, site=site_resolvers)
    assert report_of(plugins, "broken").error == "failed to register: RuntimeError: cannot read /etc/site-map"
    assert asked == []
    assert set(plugins.resolvers()) == {"by-user", "refuse-all"}


# -- what cannot be honoured is refused, never skipped --------------------------------------------


def _wraps(*args):
    yield


@pytest.mark.parametrize(
    "hook", ["wnod_batch_systems", "wnod_hypervisors", "wnod_resolvers", "wnod_cli_commands"]
)
@pytest.mark.parametrize("mark", ["wrapper", "hookwrapper"])
def test_a_wrapper_of_a_registration_hook_is_refused_naming_the_plugin_and_the_hook(
    load_plugins: Callable[..., Plugins], site_resolvers, hook: str, mark: str
) -> None:
    heard: list[str] = []
    wrapping = plugin_of(hook, _wraps, **{mark: True})
    wrapping.wnod_job_step = listener(heard, "wrapping").wnod_job_step
    plugins = load_plugins(wrapping=wrapping, site=site_resolvers)
    report = report_of(plugins, "wrapping")
    assert report.status is Status.FAILED
    assert report.error == (
        f'cannot be registered: plugin "wrapping" marks {hook} {mark}=True, but a registration hook cannot be'
        " a wrapper: each plugin declares only its own records, so that wnod knows which plugin provides what"
    )
    assert report.provides == {}
    assert set(plugins.resolvers()) == {"by-user", "refuse-all"}
    plugins.job_step(STEP)
    assert heard == [], "a refused plugin is not called at all"


def test_a_wrapper_that_is_no_generator_cannot_be_registered(load_plugins: Callable[..., Plugins]) -> None:
    plugins = load_plugins(flat=plugin_of("wnod_job_step", lambda event: None, wrapper=True))
    report = report_of(plugins, "flat")
    assert report.status is Status.FAILED
    assert report.error.startswith("cannot be registered: PluginValidationError: ")
    assert "wnod_job_step" in report.error and "not a generator function" in report.error


def test_a_wrapper_of_a_broadcast_hook_is_accepted(load_plugins: Callable[..., Plugins]) -> None:
    plugins = load_plugins(around=plugin_of("wnod_vwn_changed", _wraps, wrapper=True))
    assert report_of(plugins, "around").status is Status.LOADED


def test_an_implementation_may_name_its_hook_with_specname(load_plugins: Callable[..., Plugins]) -> None:
    heard: list[JobStepped] = []
    plugin = types.SimpleNamespace(
        on_job=wnod_core.hookimpl(specname="wnod_job_step")(lambda event: heard.append(event))
    )
    plugins = load_plugins(site=plugin)
    assert report_of(plugins, "site").status is Status.LOADED
    plugins.job_step(STEP)
    assert heard == [STEP]


def test_a_misspelt_specname_is_refused_with_did_you_mean(load_plugins: Callable[..., Plugins]) -> None:
    plugin = types.SimpleNamespace(on_job=wnod_core.hookimpl(specname="wnod_job_stp")(lambda event: None))
    report = report_of(load_plugins(site=plugin), "site")
    assert report.status is Status.FAILED
    assert report.error == 'implements unknown hooks: wnod_job_stp (did you mean "wnod_job_step"?)'


# -- WNOD_TRACE_PLUGINS ----------------------------------------------------------------------------


def test_wnod_trace_plugins_logs_every_hook_call_with_its_plugins_and_outcome(
    load_plugins: Callable[..., Plugins], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("WNOD_TRACE_PLUGINS", "1")

    def raiser(event):
        raise RuntimeError("monitoring is down")

    with caplog.at_level(logging.DEBUG, logger="wnod.plugins"):
        plugins = load_plugins(a=listener([], "a"), noisy=plugin_of("wnod_job_step", raiser))
        loading = [r.getMessage() for r in caplog.records]
        caplog.clear()
        plugins.job_step(STEP)
    lines = [r.getMessage() for r in caplog.records if r.name == "wnod.plugins.trace"]
    assert lines == [
        f"wnod_job_step(event={STEP!r}) calls (in-process):noisy, (in-process):a",
        "wnod_job_step: (in-process):noisy raised RuntimeError: monitoring is down",
        "wnod_job_step: (in-process):a returned 'a'",
        "wnod_job_step done: ['a']",
    ]
    assert "wnod_cli_commands() calls wnod-core:wnod_core.cli.builtin" in loading
    assert any(
        line.startswith("wnod_cli_commands: wnod-core:wnod_core.cli.builtin returned [") for line in loading
    )


@pytest.mark.parametrize("value", [None, "", "0"])
def test_without_wnod_trace_plugins_nothing_is_traced(
    load_plugins: Callable[..., Plugins],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    value: str | None,
) -> None:
    if value is None:
        monkeypatch.delenv("WNOD_TRACE_PLUGINS", raising=False)
    else:
        monkeypatch.setenv("WNOD_TRACE_PLUGINS", value)
    with caplog.at_level(logging.DEBUG):
        load_plugins(a=listener([], "a")).job_step(STEP)
    assert [r for r in caplog.records if r.name.startswith("wnod.plugins")] == []


# -- typed lookups ---------------------------------------------------------------------------------


def test_lookup_by_record_type_gives_a_record_of_that_type(with_plugins: Plugins) -> None:
    record = with_plugins.lookup(ResolverPlugin, "by-user")
    assert isinstance(record, ResolverPlugin) and record.name == "by-user"
    assert with_plugins.lookup(ResolverPlugin, "by-user") is with_plugins.lookup("resolvers", "by-user")
    with pytest.raises(PluginError, match=r'no batch system plugin named "slurm"; installed: none$'):
        with_plugins.lookup(BatchSystemPlugin, "slurm")
    with pytest.raises(PluginError, match=r'no hypervisor plugin named "xl"; installed: none$'):
        with_plugins.lookup(HypervisorPlugin, "xl")
