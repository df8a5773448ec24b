"""The groupfile resolver: the contract every resolver keeps, then what the site relies on."""

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from wnod_site_groupfile import plugin
from wnod_site_groupfile.resolver import GroupFileResolver

from wnod_core.errors import ConfigError, WnodError
from wnod_core.model import JobFacts, Resolved, VmType
from wnod_core.records import ResolverPlugin
from wnod_core.testing import build_plugin
from wnod_core.testing.contracts import ResolverContract

VM_TYPES = {name: VmType(name=name, image=f"{name}.img") for name in ("alpha", "beta")}


def job(*groups: str) -> JobFacts:
    return JobFacts(batch_system="test", job_id="42", user="alice", groups=groups)


@pytest.fixture
def record() -> ResolverPlugin:
    (only,) = list(plugin.wnod_resolvers())
    return only


@pytest.fixture
def group_file(tmp_path: Path) -> Path:
    return tmp_path / "groups.csv"


@pytest.fixture
def build(record: ResolverPlugin, group_file: Path, tmp_path: Path) -> Callable[..., GroupFileResolver]:
    def make(text: str | None = None, **options: Any) -> GroupFileResolver:
        if text is not None:
            group_file.write_text(text)
        return build_plugin(
            record, {"path": str(group_file), **options}, VM_TYPES, tmp_path, path="resolvers[0]"
        )

    return make


def rewrite(path: Path, text: str) -> None:
    """Change the file and move its mtime on, as a later edit would, even on a coarse-grained clock."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))


class TestGroupFile(ResolverContract):
    @pytest.fixture
    def resolver_plugin(self, record: ResolverPlugin) -> ResolverPlugin:
        return record

    @pytest.fixture
    def resolver_options(self, tmp_path: Path) -> Mapping[str, Any]:
        path = tmp_path / "groups.csv"
        path.write_text("group,vm_type\natlas,alpha\ncms,beta\n")
        return {"path": str(path)}

    @pytest.fixture
    def deciding_job(self) -> tuple[JobFacts, Resolved]:
        return job("users", "atlas"), Resolved("alpha", "group atlas")

    @pytest.fixture
    def passing_job(self) -> JobFacts:
        return job("users", "nobody")

    @pytest.fixture
    def options_naming_unknown_type(self, tmp_path: Path) -> Mapping[str, Any]:
        path = tmp_path / "unknown-type.csv"
        path.write_text("group,vm_type\natlas,gamma\n")
        return {"path": str(path)}


class TestPriority:
    def test_file_order_wins_over_the_jobs_group_order(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        resolver = build("group,vm_type\ncms,beta\natlas,alpha\n")
        expected = Resolved("beta", f"group cms is mapped to VM type beta ({group_file}:2)")
        assert resolver.resolve(job("atlas", "cms")) == expected
        assert resolver.resolve(job("cms", "atlas")) == expected

    def test_a_later_row_decides_when_earlier_groups_do_not_fit(
        self, build: Callable[..., GroupFileResolver]
    ) -> None:
        resolver = build("group,vm_type\ncms,beta\natlas,alpha\n")
        decision = resolver.resolve(job("users", "atlas"))
        assert isinstance(decision, Resolved)
        assert decision.vm_type == "alpha"
        assert decision.reason.endswith(":3)"), "the reason points the admin at the row that decided"

    def test_a_job_without_groups_gets_no_opinion(self, build: Callable[..., GroupFileResolver]) -> None:
        assert build("group,vm_type\natlas,alpha\n").resolve(job()) is None


class TestFormat:
    def test_comments_blank_lines_bom_and_spaces_are_tolerated(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        text = '# site groups\n\n  group , vm_type \n   # indented comment\n\n atlas , alpha \n"cms",beta\n'
        group_file.write_bytes(b"\xef\xbb\xbf" + text.encode())
        resolver = build()
        assert resolver.resolve(job("atlas")).vm_type == "alpha"
        assert resolver.resolve(job("cms")).vm_type == "beta"
        assert resolver.resolve(job("# site groups")) is None

    def test_header_only_means_no_rules(self, build: Callable[..., GroupFileResolver]) -> None:
        assert build("group,vm_type\n").resolve(job("atlas")) is None

    @pytest.mark.parametrize(
        ("text", "line", "words"),
        [
            ("", 1, "empty group file"),
            ("# only a comment\n", 1, "empty group file"),
            ("grp,type\natlas,alpha\n", 1, "expected the header line"),
            ("group,vm_type\natlas,alpha\ncms\n", 3, "expected 2 fields"),
            ("group,vm_type\natlas,alpha,beta\n", 2, "expected 2 fields"),
            ("# c\ngroup,vm_type\n\natlas,\n", 4, "has no VM type"),
            ("group,vm_type\nno such group,alpha\n", 2, "not a unix group name"),
            ('group,vm_type\n"atlas,alpha\n', 2, "not a CSV line"),
            ("group,vm_type\natlas,alpha\ncms,beta\natlas,beta\n", 4, "already mapped on line 2"),
        ],
    )
    def test_a_garbled_file_is_refused_at_its_line(
        self, build: Callable[..., GroupFileResolver], group_file: Path, text: str, line: int, words: str
    ) -> None:
        with pytest.raises(ValueError) as err:
            build(text)
        assert str(err.value).startswith(f"{group_file}:{line}: ")
        assert words in str(err.value)

    def test_bytes_that_are_not_utf8_are_refused_at_their_line(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        group_file.write_bytes(b"group,vm_type\natlas,alpha\ncaf\xe9,beta\n")
        with pytest.raises(ValueError, match=rf"^{group_file}:3: not UTF-8"):
            build()


class TestStartUp:
    def test_a_missing_file_is_a_configuration_error(self, build: Callable[..., GroupFileResolver]) -> None:
        with pytest.raises(ValueError, match="does not exist"):
            build()

    def test_an_unknown_type_is_named_with_its_line_and_a_suggestion(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        with pytest.raises(ValueError) as err:
            build("group,vm_type\natlas,alpha\ncms,betta\n")
        assert str(err.value) == (
            f'{group_file}:3: unknown VM type "betta" (did you mean "beta"?);'
            " configured VM types: alpha, beta"
        )

    def test_a_relative_path_is_refused(self, record: ResolverPlugin, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="path must be absolute"):
            build_plugin(record, {"path": "groups.csv"}, VM_TYPES, tmp_path, path="resolvers[0]")

    def test_an_unknown_missing_file_policy_is_refused_with_the_choices(
        self, build: Callable[..., GroupFileResolver]
    ) -> None:
        with pytest.raises(ConfigError) as err:
            build("group,vm_type\n", on_missing_file="refus")
        (problem,) = err.value.problems
        assert problem.path == "resolvers[0].on_missing_file"
        assert problem.message == "expected one of 'refuse', 'pass', got \"refus\" (did you mean \"refuse\"?)"


class TestReload:
    def test_an_edit_takes_effect_for_the_next_job(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        resolver = build("group,vm_type\natlas,alpha\n")
        assert resolver.resolve(job("atlas")).vm_type == "alpha"
        rewrite(group_file, "group,vm_type\natlas,beta\n")
        assert resolver.resolve(job("atlas")).vm_type == "beta"

    def test_a_file_renamed_over_the_old_one_is_read(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        resolver = build("group,vm_type\natlas,alpha\n")
        assert resolver.resolve(job("atlas")).vm_type == "alpha"
        aside = group_file.with_name("groups.csv.new")
        aside.write_text("group,vm_type\natlas,beta\n")
        # Same size and, on purpose, the same mtime: only the inode tells it is another file.
        stat = group_file.stat()
        os.utime(aside, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(aside, group_file)
        assert resolver.resolve(job("atlas")).vm_type == "beta"

    def test_an_unchanged_file_is_not_read_again(
        self, build: Callable[..., GroupFileResolver], group_file: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        resolver = build("group,vm_type\natlas,alpha\n")
        reads: list[Path] = []
        real = Path.read_bytes
        monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
        for _ in range(5):
            assert resolver.resolve(job("atlas")).vm_type == "alpha"
        assert reads == []
        rewrite(group_file, "group,vm_type\natlas,beta\n")
        resolver.resolve(job("atlas"))
        resolver.resolve(job("atlas"))
        assert reads == [group_file]

    def test_a_broken_edit_refuses_jobs_with_its_line_until_fixed(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        resolver = build("group,vm_type\natlas,alpha\n")
        rewrite(group_file, "group,vm_type\natlas,alpha\ncms;beta\n")
        for _ in range(2):
            with pytest.raises(WnodError, match=rf"^{group_file}:3: expected 2 fields"):
                resolver.resolve(job("atlas"))
        rewrite(group_file, "group,vm_type\natlas,alpha\ncms,beta\n")
        assert resolver.resolve(job("cms")).vm_type == "beta"

    def test_an_edit_naming_an_unknown_type_refuses_jobs(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        resolver = build("group,vm_type\natlas,alpha\n")
        rewrite(group_file, "group,vm_type\natlas,alpha\ncms,gamma\n")
        with pytest.raises(WnodError, match=rf'^{group_file}:3: unknown VM type "gamma"'):
            resolver.resolve(job("atlas"))

    def test_a_deleted_file_refuses_jobs_by_default(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        resolver = build("group,vm_type\natlas,alpha\n")
        group_file.unlink()
        with pytest.raises(WnodError, match="the group file is missing"):
            resolver.resolve(job("atlas"))
        group_file.write_text("group,vm_type\natlas,beta\n")
        assert resolver.resolve(job("atlas")).vm_type == "beta"

    def test_a_deleted_file_passes_jobs_on_when_told_to(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        resolver = build("group,vm_type\natlas,alpha\n", on_missing_file="pass")
        group_file.unlink()
        assert resolver.resolve(job("atlas")) is None

    def test_threads_see_either_version_never_an_error(
        self, build: Callable[..., GroupFileResolver], group_file: Path
    ) -> None:
        resolver = build("group,vm_type\natlas,alpha\n")
        seen: set[str] = set()
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(200):
                    seen.add(resolver.resolve(job("atlas")).vm_type)
            except BaseException as exc:  # collected so the main thread can fail the test
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        aside = group_file.with_name("groups.csv.new")
        for kind in ("beta", "alpha", "beta"):
            aside.write_text(f"group,vm_type\natlas,{kind}\n")
            os.replace(aside, group_file)
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert seen <= {"alpha", "beta"}
        assert resolver.resolve(job("atlas")).vm_type == "beta"
