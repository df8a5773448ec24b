"""The ``pbs`` plugin as the core loads it: its options, documented and checked."""

import attrs
import pytest
from wnod_core.errors import ConfigError
from wnod_core.interfaces import BaitOutcome, BatchSystem
from wnod_core.model.fields import doc_of


def test_the_core_finds_and_builds_it(record, build):
    assert record.name == "pbs" and record.summary
    adapter = build({})
    assert isinstance(adapter, BatchSystem)
    assert adapter.options.flavour == "openpbs" and adapter.runner.path("qstat") == "qstat"


def test_every_option_is_documented(record):
    for field in attrs.fields(record.options):
        assert doc_of(field), field.name


def test_commands_come_from_bin_dir_or_their_own_path(build):
    adapter = build({"bin_dir": "/opt/pbs/bin/", "commands": {"qrun": "/usr/local/sbin/qrun"}})
    assert adapter.runner.path("qstat") == "/opt/pbs/bin/qstat"
    assert adapter.runner.path("qrun") == "/usr/local/sbin/qrun"


@pytest.mark.parametrize(
    "options, where",
    [
        ({"flavour": "lsf"}, "batch.pbs.flavour"),
        ({"timeout": 0}, "timeout"),
        ({"commands": {"qsub": "/bin/qsub"}}, "qsub"),
    ],
)
def test_wrong_options_are_config_errors_at_their_key(build, options, where):
    with pytest.raises(ConfigError, match=where):
        build(options)


def test_the_prologue_turns_each_outcome_into_what_its_exit_status_means_to_the_mom():
    from wnod_pbs.bait import EXIT_CODES, PROLOGUE_EXIT

    prologue = {outcome: PROLOGUE_EXIT[code] for outcome, code in EXIT_CODES.items()}
    assert prologue[BaitOutcome.RELEASED] == 0  # the job runs
    assert prologue[BaitOutcome.REFUSED] == 1  # the MOM aborts it
    assert prologue[BaitOutcome.RETRY] > 1 and prologue[BaitOutcome.MIGRATED] > 1  # requeued
    assert not {1, 2} & set(EXIT_CODES.values()), "1 and 2 are wnod's own failures"


def test_the_bait_side_names_both_host_variables():
    from wnod_core.errors import BatchSystemError
    from wnod_core.interfaces import HookInput

    from wnod_pbs.bait import BAIT_SIDE

    with pytest.raises(BatchSystemError, match="PBS_MSHOST.*WNOD_PBS_BAIT_HOST"):
        BAIT_SIDE.read(HookInput(environ={}, argv=("12.srv", "alice", "users")))
    request = BAIT_SIDE.read(HookInput(environ={"PBS_MSHOST": "n1"}, argv=("12.srv", "alice", "users")))
    assert (request.job_id, request.bait_host) == ("12.srv", "n1")
