"""The bait side of a batch system: what its job-start hook hands ``wnod bait``, and the answer
that makes the batch system do what wnod decided.

It is a record of the batch-system plugin (``BatchSystemPlugin.bait``), not a method of the
adapter: ``wnod bait`` runs on the bait, from the hook, and needs neither the adapter nor its
configuration, only this. Systems differ in both directions: Slurm and LSF pass the job in the
environment, PBS in the arguments, HTCondor the job ClassAd on stdin; Slurm, LSF and PBS read an
exit code, HTCondor's starter reads a ClassAd on stdout.
"""

import enum
from collections.abc import Callable, Mapping

import attrs


class BaitOutcome(enum.StrEnum):
    """How ``wnod bait`` ended, for the plugin to turn into its batch system's answer."""

    MIGRATED = "migrated"
    """The job was moved to its VWN: this dispatch on the bait must not run it."""
    REFUSED = "refused"
    """No VM type for the job: fail it (or hold it, per the system) with the reason shown."""
    RETRY = "retry"
    """A passing failure (host full, VWN failed to boot): put the job back to pending."""
    RELEASED = "released"
    """Site policy lets the job run normally, outside a VWN."""


@attrs.frozen
class BaitRequest:
    """What the batch system's job-start hook tells ``wnod bait``: which job, on which bait."""

    job_id: str
    bait_host: str


@attrs.frozen
class HookInput:
    """Everything the job-start hook handed ``wnod bait``."""

    environ: Mapping[str, str]
    argv: tuple[str, ...] = attrs.field(converter=tuple, default=())
    """The hook's arguments to ``wnod bait``, after wnod's own options."""
    stdin: str = ""
    """What the hook wrote on stdin; read only for a plugin whose ``BaitSide.reads_stdin``."""


@attrs.frozen
class HookAnswer:
    """How ``wnod bait`` ends: its exit code, and what it prints on stdout for the hook."""

    exit_code: int = attrs.field(validator=[attrs.validators.instance_of(int), attrs.validators.ge(0),
                                            attrs.validators.le(255)])
    stdout: str = attrs.field(default="", validator=attrs.validators.instance_of(str))


def _every_outcome(_inst: object, attr: attrs.Attribute, codes: Mapping[BaitOutcome, int]) -> None:
    missing = [o.value for o in BaitOutcome if o not in codes]
    if missing:
        raise ValueError(f"{attr.name}: no exit code for {', '.join(missing)}")
    released = codes[BaitOutcome.RELEASED]
    clash = [o.value for o in BaitOutcome if o is not BaitOutcome.RELEASED and codes[o] == released]
    if clash:
        # The one code that runs the job on the bait must never be given when it must not run.
        raise ValueError(f"{attr.name}: {', '.join(clash)} share exit code {released} with released")
    for outcome, code in codes.items():
        HookAnswer(exit_code=code)  # 0-255, or a clear error naming it


@attrs.frozen(kw_only=True)
class BaitSide:
    """A batch system's bait side: ``read`` a hook's input into a request, ``answer`` an outcome.

    ``read`` raises ``BatchSystemError`` naming what is missing when the input is not this
    system's hook's. ``answer(outcome, reason)`` gives the hook what makes the system do what
    `outcome` means (``reason`` is for systems that show it; ``wnod bait`` also says it on stderr).
    Most systems answer with an exit code alone: ``BaitSide.by_exit_code(read, codes)``.
    """

    read: Callable[[HookInput], BaitRequest]
    answer: Callable[[BaitOutcome, str], HookAnswer]
    reads_stdin: bool = False
    """Whether the hook passes something on stdin that ``read`` needs (HTCondor's job ClassAd):
    only then does ``wnod bait`` read it, to its end."""

    @classmethod
    def by_exit_code(cls, read: Callable[[HookInput], BaitRequest], codes: Mapping[BaitOutcome, int],
                     *, reads_stdin: bool = False) -> "BaitSide":
        """A bait side answering each outcome with its exit code from `codes`, nothing on stdout."""
        return cls(read=read, answer=_ExitCodes(dict(codes)), reads_stdin=reads_stdin)


@attrs.frozen
class _ExitCodes:
    codes: Mapping[BaitOutcome, int] = attrs.field(validator=_every_outcome)

    def __call__(self, outcome: BaitOutcome, _reason: str) -> HookAnswer:
        return HookAnswer(exit_code=self.codes[outcome])
