"""wnod-site-groupfile: an example site plugin for wnod.

It adds one VM-type resolver, ``groupfile``, which maps the unix groups of a job's
owner to VM types through a CSV file the site maintains (see README.md).
"""

from .options import GroupFileOptions, OnMissingFile
from .resolver import GroupFileResolver

__all__ = ["GroupFileOptions", "GroupFileResolver", "OnMissingFile"]
