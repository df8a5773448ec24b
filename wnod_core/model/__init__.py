"""The things every part of wnod talks about, as frozen values."""

from .decision import Decision, Refused, Resolved
from .host import HostCapacity
from .job import JobFacts, JobState
from .units import Bytes, Seconds, format_duration, format_size, parse_duration, parse_size
from .vmtype import ImageSource, Network, ReusePolicy, ReuseScope, ScratchLayout, VmType
from .vwn import Vwn, VwnState, legal_moves

__all__ = [
    "Bytes",
    "Decision",
    "HostCapacity",
    "JobFacts",
    "JobState",
    "Network",
    "Refused",
    "Resolved",
    "ReusePolicy",
    "ImageSource",
    "ReuseScope",
    "ScratchLayout",
    "Seconds",
    "VmType",
    "Vwn",
    "VwnState",
    "format_duration",
    "format_size",
    "legal_moves",
    "parse_duration",
    "parse_size",
]
