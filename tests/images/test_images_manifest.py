"""Manifests and image references: what a host accepts as a version's description."""

import json

import attrs
import pytest

from wnod_core.errors import ImageError
from wnod_core.images import Manifest, parse_ref

GOOD = Manifest(image="debian-science", version=2, parent=1, created="2026-12-02T10:00:00Z",
                created_by="root@build01", size=4096, sha256="ab" * 32, script_sha256="cd" * 32, note="numpy 2")


def test_a_manifest_reads_back_equal_from_its_json() -> None:
    assert Manifest.from_json(GOOD.to_json(), "m.json") == GOOD
    assert GOOD.ref == "debian-science@2"


@pytest.mark.parametrize(("ref", "expected"), [
    ("debian-science", ("debian-science", None)),
    ("debian-science@3", ("debian-science", 3)),
])
def test_a_reference_names_an_image_and_maybe_a_version(ref, expected) -> None:
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(("ref", "says"), [
    ("debian-science@", "must be a number"),
    ("debian-science@0", "must be a number"),
    ("debian-science@v2", "must be a number"),
    ("debian-science@1@2", "expected IMAGE or IMAGE@VERSION"),
    ("../etc@1", "image name must be lowercase"),
    ("Debian", "image name must be lowercase"),
])
def test_a_bad_reference_is_refused_saying_why(ref, says) -> None:
    with pytest.raises(ImageError, match=says):
        parse_ref(ref)


@pytest.mark.parametrize(("change", "says"), [
    (lambda d: "not json", "not JSON"),
    (lambda d: [d], "expected a JSON object"),
    (lambda d: {**d, "format": 2}, "manifest format 2; this wnod reads format 1"),
    (lambda d: {**d, "signed_by": "me"}, "unknown manifest keys signed_by"),
    (lambda d: {**d, "sha256": "AB" * 32}, "sha256: expected 64 lowercase hex digits"),
    (lambda d: {**d, "sha256": ""}, "sha256: expected 64 lowercase hex digits"),
    (lambda d: {**d, "version": 0}, "expected a version number"),
    (lambda d: {**d, "version": True}, "expected a version number"),
    (lambda d: {**d, "image": "../x"}, "image name must be"),
    (lambda d: {k: v for k, v in d.items() if k != "size"}, "not a valid manifest"),
    (lambda d: {**d, "size": -1}, "not a valid manifest"),
])
def test_a_garbled_manifest_is_refused_naming_where_and_what(change, says) -> None:
    data = change(attrs.asdict(GOOD))
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(ImageError, match=says) as caught:
        Manifest.from_json(text, "http://images.test/debian-science/2/manifest.json")
    assert str(caught.value).startswith("http://images.test/debian-science/2/manifest.json: ")
