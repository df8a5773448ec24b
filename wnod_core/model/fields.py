"""attrs fields that carry their own documentation.

The configuration reference is generated from these docs, so what the admin reads
and what the code accepts cannot drift apart.
"""

from typing import Any

import attrs


def documented(doc: str, **kwargs: Any) -> Any:
    """An ``attrs.field`` whose ``metadata["doc"]`` explains it to a farm admin."""
    metadata = dict(kwargs.pop("metadata", {}))
    metadata["doc"] = doc
    return attrs.field(metadata=metadata, **kwargs)


def doc_of(field: attrs.Attribute) -> str:
    return str(field.metadata.get("doc", ""))
