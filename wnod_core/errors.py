"""wnod's own exceptions. Each carries a message written for the farm admin."""

import attrs


class WnodError(Exception):
    """Base of every error wnod reports to the admin without a traceback."""


class IllegalTransition(WnodError):
    """A VWN was asked to make a move its state machine forbids: always a bug in wnod."""


@attrs.frozen
class Problem:
    """One mistake in the configuration, at a dotted path such as ``vm_types.atlas.memory``."""

    path: str
    message: str
    source: str = ""
    """The file the offending value came from, when known."""

    def __str__(self) -> str:
        where = f" (in {self.source})" if self.source else ""
        return f"{self.path}: {self.message}{where}" if self.path else f"{self.message}{where}"


class ConfigError(WnodError):
    """The configuration has one or more mistakes; nothing may start until they are fixed."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PluginError(WnodError):
    """A plugin could not be loaded, registered or used."""


class BatchSystemError(WnodError):
    """The batch system refused a request or answered something wnod cannot read.

    The message names the command (or call) and quotes what came back.
    """


class JobNotFound(BatchSystemError):
    """The batch system does not know this job (never existed, or already purged)."""


class Garbled(ValueError):
    """A batch system's output that cannot be read: not the shape its documentation and source
    give. Raised by an adapter's parsers; the message says what was expected and, when known,
    where in the output. The adapter turns it into a ``BatchSystemError`` naming the command."""

    def at(self, where: str) -> "Garbled":
        """The same error, said of `where` in the output: ``line 3: JobId='x' is not a number``."""
        return type(self)(f"{where}: {self}")


class HypervisorError(WnodError):
    """The hypervisor refused a request or failed; the message says which and why."""


class ImageUnavailable(HypervisorError):
    """The disk of a VM type's image version cannot be had on this host (none published, not in the
    library, changed since it was verified): a fault of that type here, not of the host, whose other
    types boot as before."""


class VwnNotFound(HypervisorError):
    """The hypervisor has no domain for this VWN."""


class ImageError(WnodError):
    """An image version cannot be made, fetched, verified, published or used; the message names
    the image, the version and the file, and says why."""
