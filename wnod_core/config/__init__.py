"""The site's configuration: TOML found through XDG, validated against the installed plugins."""

from .load import Config, ResolverLink, load_config

__all__ = ["Config", "ResolverLink", "load_config"]
