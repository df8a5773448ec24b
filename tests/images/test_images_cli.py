"""``wnod image`` as an admin types it: two hosts sharing an image source, one building, the
other pulling; refusals are one clear line, never a traceback."""

import json
import time
from pathlib import Path

import pytest

from wnod_core.cli.main import main
from wnod_core.engine import Store
from wnod_core.model import Vwn, VwnState

IMAGE = "debian-science"


class Said:
    def __init__(self, code: int, stdout: str, stderr: str):
        self.exit_code, self.stdout, self.output = code, stdout, stdout + stderr


def wnod_main(capsys: pytest.CaptureFixture[str], *args: str) -> Said:
    """The console script's entry point in-process, as the admin's shell runs it."""
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    out, err = capsys.readouterr()
    return Said(exit_.value.code, out, err)


@pytest.fixture
def farm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], keys):
    """``farm("hv01", "image", "list")`` runs wnod on host hv01 (its own config, library, state)."""
    monkeypatch.setenv("WNOD_LOAD_PLUGINS", "")

    def wnod(host: str, *args: str, ok: bool = True):
        root = tmp_path / host
        config = root / "wnod.toml"
        if not config.exists():
            root.mkdir()
            config.write_text(f"""
[host]
name = "{host}"

[images]
library = "{root / 'images'}"
source = "{tmp_path / 'source'}"
allowed_signers = "{keys.allowed_signers}"
signing_key = "{keys.private}"

[vm_types.sci]
image = "{IMAGE}"
image_source = "library"
""")
        result = wnod_main(capsys, "--config", str(config), "--state-dir", str(root / "state"), *args)
        assert (result.exit_code == 0) is ok, result.output
        return result

    return wnod


def _disk(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"{text}.raw"
    path.write_bytes(text.encode() * 10_000)
    return path


def test_a_version_built_on_one_host_is_pulled_and_published_on_another(farm, tmp_path) -> None:
    assert farm("build", "image", "import", IMAGE, str(_disk(tmp_path, "base")), "--note", "bookworm").stdout == f"{IMAGE}@1\n"
    assert farm("build", "image", "push", f"{IMAGE}@1").stdout.strip().endswith(f"source/{IMAGE}/1")
    said = farm("hv01", "image", "publish", f"{IMAGE}@1")
    assert said.stdout == f"{IMAGE}: current none -> {IMAGE}@1\n"
    listed = json.loads(farm("hv01", "image", "list", "--json").stdout)
    assert listed == {"images": [{"image": IMAGE, "versions": [1], "current": 1, "vm_types": ["sci"]}]}
    shown = json.loads(farm("hv01", "image", "show", IMAGE, "--json").stdout)
    assert (shown["version"], shown["note"]) == (1, "bookworm")
    assert farm("hv01", "image", "verify", f"{IMAGE}@1").stdout.startswith(f"{IMAGE}@1: good (sha256 ")


def test_status_counts_the_vwns_using_each_version_and_delete_spares_them(farm, tmp_path) -> None:
    for text in ("one", "two", "three"):
        farm("hv01", "image", "import", IMAGE, str(_disk(tmp_path, text)))
    farm("hv01", "image", "publish", f"{IMAGE}@1")
    farm("hv01", "image", "publish", f"{IMAGE}@3")
    store = Store(tmp_path / "hv01" / "state" / "wnod.db")
    now = time.time()
    for n, state in ((1, VwnState.RUNNING), (2, VwnState.IDLE), (3, VwnState.DESTROYED)):
        store.add_vwn(Vwn(id=f"v{n}", host="hv01", vm_type="sci", state=state, created_at=now, updated_at=now,
                          image_version="2" if n < 3 else "1", slot=n))
    store.close()
    rows = json.loads(farm("hv01", "image", "status", IMAGE, "--json").stdout)["versions"]
    assert [(r["version"], r["current"], r["rollback_target"], r["in_use"]) for r in rows] == [
        (1, False, True, 0), (2, False, False, 2), (3, True, False, 0)]
    table = farm("hv01", "image", "status", IMAGE).stdout.splitlines()
    assert table[0].split() == ["VERSION", "STATE", "VWNS", "CREATED", "PARENT", "NOTE"]
    assert table[2].split()[:3] == [f"{IMAGE}@2", "cached", "2"]
    refused = farm("hv01", "image", "delete", f"{IMAGE}@2", ok=False)
    assert refused.output.strip() == f"wnod: error: {IMAGE}@2 is in use by a VWN of this host: it goes when they do"
    assert farm("hv01", "image", "delete", f"{IMAGE}@3", ok=False).output.strip().endswith(
        "is current on this host: publish another version or roll back first")
    assert farm("hv01", "image", "rollback", IMAGE).stdout == f"{IMAGE}: current {IMAGE}@3 -> {IMAGE}@1\n"


def test_bad_references_and_missing_versions_are_one_clear_line(farm, tmp_path) -> None:
    farm("hv01", "image", "import", IMAGE, str(_disk(tmp_path, "base")))
    for args, says in [
        (("show", f"{IMAGE}@9"), f"{IMAGE}@9 is not in the image library"),
        (("show", IMAGE), f"no version of {IMAGE} is current on this host"),
        (("publish", IMAGE), f"name the version: {IMAGE}@N"),
        (("publish", "Bad@1"), "image name must be lowercase"),
        (("pull", f"{IMAGE}@4"), f"{IMAGE}@4 is not at the image source"),
        (("update", IMAGE, "--script", str(_disk(tmp_path, "s"))), "hypervisor.backend: required here"),
    ]:
        result = farm("hv01", "image", *args, ok=False)
        assert says in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_a_library_type_without_a_library_is_a_config_error(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WNOD_LOAD_PLUGINS", "")
    config = tmp_path / "wnod.toml"
    config.write_text('[host]\nname = "hv01"\n[vm_types.sci]\nimage = "Sci.img"\nimage_source = "library"\n'
                      'image_version = "7"\n')
    result = wnod_main(capsys, "--config", str(config), "config", "check")
    assert result.exit_code != 0
    assert 'vm_types.sci.image_source: "library" needs [images] library, which is not set' in result.output
    assert "vm_types.sci.image: a library image's name must be lowercase" in result.output
    assert "vm_types.sci.image_version: the version of a \"library\" image is the one published" in result.output
