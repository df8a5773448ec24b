"""Loading plugins and talking to them, through one typed facade."""

from .manager import Plugins
from .report import PluginReport, Status

__all__ = ["PluginReport", "Plugins", "Status"]
