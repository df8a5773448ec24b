"""What a VM-type resolver answers for a job."""

import attrs


@attrs.frozen
class Resolved:
    """The job runs in a VWN of `vm_type`."""

    vm_type: str
    reason: str
    """Why, in words the admin and the job's owner understand ("user alice is mapped to atlas")."""
    resolver: str = ""
    """Which resolver of the chain decided; the chain fills it in."""


@attrs.frozen
class Refused:
    """The job may not run: `reason` is shown to its owner through the batch system."""

    reason: str
    resolver: str = ""


Decision = Resolved | Refused
