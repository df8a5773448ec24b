"""The contract every VM-type resolver keeps."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ...errors import ConfigError
from ...interfaces import Resolver
from ...model import JobFacts, Refused, Resolved, VmType
from ...records import ResolverPlugin
from ..build import build_plugin, structure_options


class ResolverContract:
    """Subclass as ``class TestMyResolver(ResolverContract)`` and provide these fixtures:

    - ``resolver_plugin``: the ``ResolverPlugin`` record your plugin registers;
    - ``resolver_options``: the TOML table (without ``use``) that configures it;
    - ``deciding_job``: a ``(JobFacts, Decision)`` pair — a job it decides, and the
      ``Resolved`` or ``Refused`` it must answer (compared on type and VM type);
    - ``passing_job``: a ``JobFacts`` it has no opinion on (it must answer None), or
      None for a resolver that answers every job by design (a site default, meant to
      end the chain); the tests that need a passing job then check the deciding one only.

    ``vm_types`` offers two types, ``alpha`` and ``beta``; override it if yours differ.
    Override ``options_naming_unknown_type`` to return a table that names a VM type
    which is not configured, if your options name types: building must then fail.
    """

    @pytest.fixture
    def vm_types(self) -> Mapping[str, VmType]:
        return {name: VmType(name=name, image=f"{name}.img") for name in ("alpha", "beta")}

    @pytest.fixture
    def options_naming_unknown_type(self) -> Mapping[str, Any] | None:
        return None

    @pytest.fixture
    def resolver(
        self,
        resolver_plugin: ResolverPlugin,
        resolver_options: Mapping[str, Any],
        vm_types: Mapping[str, VmType],
        tmp_path: Path,
    ) -> Resolver:
        return build_plugin(resolver_plugin, resolver_options, vm_types, tmp_path, path="resolvers[0]")

    def test_registers_a_resolver_record(self, resolver_plugin: ResolverPlugin) -> None:
        assert isinstance(resolver_plugin, ResolverPlugin)
        assert resolver_plugin.name == resolver_plugin.name.lower()

    def test_factory_builds_a_resolver(self, resolver: Resolver) -> None:
        assert isinstance(resolver, Resolver)

    def test_decides_the_deciding_job(self, resolver: Resolver, deciding_job: tuple[JobFacts, Any]) -> None:
        job, expected = deciding_job
        decision = resolver.resolve(job)
        assert type(decision) is type(expected)
        if isinstance(expected, Resolved):
            assert decision.vm_type == expected.vm_type
        assert decision.reason, "a decision must say why, for the admin and the job's owner"

    def test_chosen_type_is_configured(
        self, resolver: Resolver, deciding_job: tuple[JobFacts, Any], vm_types: Mapping[str, VmType]
    ) -> None:
        decision = resolver.resolve(deciding_job[0])
        if isinstance(decision, Resolved):
            assert decision.vm_type in vm_types

    def test_passes_a_job_it_has_no_opinion_on(self, resolver: Resolver, passing_job: JobFacts | None) -> None:
        if passing_job is None:
            pytest.skip("this resolver answers every job")
        assert resolver.resolve(passing_job) is None

    def test_same_facts_same_answer(self, resolver: Resolver, deciding_job: tuple[JobFacts, Any]) -> None:
        job = deciding_job[0]
        assert resolver.resolve(job) == resolver.resolve(job)

    def test_does_not_decide_on_the_environment(
        self,
        resolver: Resolver,
        deciding_job: tuple[JobFacts, Any],
        passing_job: JobFacts | None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        jobs = [deciding_job[0]] + ([passing_job] if passing_job is not None else [])
        before = [resolver.resolve(job) for job in jobs]
        # What a job's owner could set in the environment the hook runs in.
        for name in ("WNOD_VM_TYPE", "VM_TYPE", "USER", "LOGNAME", "SLURM_JOB_PARTITION", "LSB_QUEUE"):
            monkeypatch.setenv(name, "beta")
        assert [resolver.resolve(job) for job in jobs] == before
        assert os.environ["WNOD_VM_TYPE"] == "beta"

    def test_refusals_say_why(self, resolver: Resolver, deciding_job: tuple[JobFacts, Any]) -> None:
        decision = resolver.resolve(deciding_job[0])
        if isinstance(decision, Refused):
            assert len(decision.reason) > 10

    def test_unknown_option_key_is_a_path_qualified_error(
        self, resolver_plugin: ResolverPlugin, resolver_options: Mapping[str, Any]
    ) -> None:
        if resolver_plugin.options is None:
            pytest.skip("this resolver takes no options")
        with pytest.raises(ConfigError) as err:
            structure_options(resolver_plugin, {**resolver_options, "surely_not_an_option": 1}, "resolvers[0]")
        assert any(p.path == "resolvers[0].surely_not_an_option" for p in err.value.problems)

    def test_options_naming_an_unknown_type_are_refused(
        self,
        resolver_plugin: ResolverPlugin,
        options_naming_unknown_type: Mapping[str, Any] | None,
        vm_types: Mapping[str, VmType],
        tmp_path: Path,
    ) -> None:
        if options_naming_unknown_type is None:
            pytest.skip("this resolver's options name no VM types")
        with pytest.raises((ConfigError, ValueError)) as err:
            build_plugin(resolver_plugin, options_naming_unknown_type, vm_types, tmp_path, path="resolvers[0]")
        assert "resolvers[0]" in str(err.value) or "VM type" in str(err.value)
