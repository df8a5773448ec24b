"""One view of the farm: every hypervisor host's daemon asked at once, over its TCP API."""

from .config import FARM_ENV, FarmFile, FarmHost, load_farm
from .view import HostAnswer, ask_farm

__all__ = ["FARM_ENV", "FarmFile", "FarmHost", "HostAnswer", "ask_farm", "load_farm"]
