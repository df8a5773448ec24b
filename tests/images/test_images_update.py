"""``wnod image update`` end to end with a stand-in for the update VM's guest: the pipeline — copy,
script disk, boot, status and log read back, file-system check, seal — is the real one; only the
guest is played by the test, doing what the image's updater does (docs/images.md)."""

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from wnod_core.cli.main import main
from wnod_core.errors import HypervisorError, ImageError
from wnod_core.images.library import STAGING
from wnod_core.images.seal import import_disk
from wnod_core.images.update import LABEL, UpdateRequest, update
from wnod_core.images.verify import sha256_of
from wnod_core.model import ImageSource, VmType
from wnod_core.testing.fakes import FakeHypervisor

IMAGE = "debian-science"
VM_TYPE = VmType(name="sci", image=IMAGE, image_source=ImageSource.LIBRARY)


def _debugfs_write(disk: Path, local: Path, name: str) -> None:
    subprocess.run(["debugfs", "-w", "-R", f"write {local} {name}", str(disk)], check=True, capture_output=True)


def guest(spec, console) -> None:
    """The updater of the image: runs ``run`` from the script disk as a shell script with ROOT as
    the new disk's root (each file it leaves there is written into the disk), then writes ``log``
    and ``status`` to the script disk — what wnod-init does in a real guest."""
    label = subprocess.run(["e2label", str(spec.script_disk)], capture_output=True, text=True).stdout.strip()
    assert label == LABEL
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "root").mkdir()
        subprocess.run(["debugfs", "-R", f"rdump / {work}", str(spec.script_disk)], check=True,
                       capture_output=True)
        done = subprocess.run(["sh", str(work / "run")], cwd=work, env={"ROOT": str(work / "root"), "PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True)
        for line in done.stdout.splitlines():
            console(line)
        for made in (work / "root").iterdir():
            _debugfs_write(spec.disk, made, made.name)
        (work / "log.out").write_text(done.stdout + done.stderr)
        _debugfs_write(spec.script_disk, work / "log.out", "log")
        if (work / "no-status").exists():
            return  # the script powered the VM off before it was done
        (work / "status.out").write_text(f"{done.returncode}\n")
        _debugfs_write(spec.script_disk, work / "status.out", "status")


@pytest.fixture
def built(host_images, tmp_path, ext4, keys):
    """A host whose library has debian-science@1 (an ext4 with /motd), signed, current."""
    images = host_images(signing_key=str(keys.private), allowed_signers=str(keys.allowed_signers))
    import_disk(images, IMAGE, ext4(tmp_path / "v1.raw", {"motd": "version 1\n"}), lambda _line: None)
    images.publish(IMAGE, 1)
    return images


def _script(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "update.sh"
    path.write_text(text)
    return path


def test_an_update_builds_the_next_version_from_the_parent_and_leaves_the_parent_alone(
        built, tmp_path, read_disk, say) -> None:
    parent = built.library.manifest(IMAGE, 1)
    script = _script(tmp_path, 'echo "installing hello"\ncp hello.deb "$ROOT/marker"\necho done\n')
    deb = tmp_path / "hello.deb"
    deb.write_text("a package\n")
    console: list[str] = []
    hypervisor = FakeHypervisor(update_guest=guest)
    manifest = update(built, hypervisor, UpdateRequest(IMAGE, script, VM_TYPE, "hv01", files=(deb,), note="hello"),
                      say.append, console.append)
    assert (manifest.ref, manifest.parent, manifest.note) == (f"{IMAGE}@2", 1, "hello")
    assert console == ["installing hello", "done"]
    assert built.library.versions(IMAGE) == [1, 2]
    new, old = built.library.disk(IMAGE, 2), built.library.disk(IMAGE, 1)
    assert read_disk(new, "marker") == "a package\n" and read_disk(new, "motd") == "version 1\n"
    assert read_disk(old, "marker") is None and sha256_of(old) == parent.sha256
    assert manifest.script_sha256 == sha256_of(script)
    log = built.library.log(IMAGE, 2)
    assert "installing hello" in log and manifest.log_sha256 == hashlib.sha256(log.encode()).hexdigest()
    assert built.check(IMAGE, 2) == manifest  # signed, and this host's own check passes
    assert built.rollout(IMAGE).current == 1  # built, not published
    [(spec,)] = hypervisor.calls_to("run_update")
    assert spec.name == f"wnod-update-{IMAGE}-2" and spec.vm_type == VM_TYPE
    assert any("checking the new disk's file system" in line for line in say)
    assert not [p for p in built.library.image_dir(IMAGE).iterdir() if p.name.startswith(STAGING)]


def test_a_failing_script_keeps_nothing_but_its_log(built, tmp_path) -> None:
    script = _script(tmp_path, 'echo "E: Unable to locate package nope"\nexit 100\n')
    with pytest.raises(ImageError, match=r"the script exited with status 100; nothing was kept but its log, .*failed/2-"):
        update(built, FakeHypervisor(update_guest=guest), UpdateRequest(IMAGE, script, VM_TYPE, "hv01"),
               lambda _l: None, lambda _l: None)
    assert built.library.versions(IMAGE) == [1]
    [log] = (built.library.image_dir(IMAGE) / "failed").iterdir()
    assert "Unable to locate package nope" in log.read_text()
    assert not [p for p in built.library.image_dir(IMAGE).iterdir() if p.name.startswith(STAGING)]


def test_a_guest_that_powers_off_before_its_script_ends_fails_the_update(built, tmp_path) -> None:
    script = _script(tmp_path, 'touch no-status\necho "half way"\n')
    with pytest.raises(ImageError, match="left no status .it did not finish"):
        update(built, FakeHypervisor(update_guest=guest), UpdateRequest(IMAGE, script, VM_TYPE, "hv01"),
               lambda _l: None, lambda _l: None)
    assert built.library.versions(IMAGE) == [1]


def test_an_update_vm_that_cannot_boot_leaves_nothing(built, tmp_path) -> None:
    def hung(spec, console):
        raise HypervisorError(f"update VM {spec.name} still ran after {spec.timeout:g}s: destroyed")

    script = _script(tmp_path, "exit 0\n")
    with pytest.raises(HypervisorError, match="still ran after 3600s: destroyed$"):
        update(built, FakeHypervisor(update_guest=hung), UpdateRequest(IMAGE, script, VM_TYPE, "hv01"),
               lambda _l: None, lambda _l: None)
    with pytest.raises(HypervisorError, match="no update guest given"):
        update(built, FakeHypervisor(), UpdateRequest(IMAGE, script, VM_TYPE, "hv01"), lambda _l: None, lambda _l: None)
    assert built.library.versions(IMAGE) == [1]
    assert sorted(p.name for p in built.library.image_dir(IMAGE).iterdir()) == [".lock", "1", "rollout.json"]


def test_an_update_vm_that_times_out_keeps_nothing_but_what_its_script_logged_until_then(built, tmp_path) -> None:
    def stuck(spec, console):
        (tmp_path / "log.out").write_text("Unpacking libfoo (1.2) ...\n")
        _debugfs_write(spec.script_disk, tmp_path / "log.out", "log")  # wnod-init logs as the script runs
        raise HypervisorError(f"update VM {spec.name} still ran after {spec.timeout:g}s: destroyed")

    script = _script(tmp_path, "exit 0\n")
    with pytest.raises(HypervisorError, match=r"still ran after 3600s: destroyed; nothing was kept but what the"
                                              r" script logged until then, .*failed/2-"):
        update(built, FakeHypervisor(update_guest=stuck), UpdateRequest(IMAGE, script, VM_TYPE, "hv01"),
               lambda _l: None, lambda _l: None)
    assert built.library.versions(IMAGE) == [1]
    [log] = (built.library.image_dir(IMAGE) / "failed").iterdir()
    assert log.read_text() == "Unpacking libfoo (1.2) ...\n"


def test_a_script_that_breaks_the_file_system_is_refused(built, tmp_path) -> None:
    def vandal(spec, console):
        guest(spec, console)
        with open(spec.disk, "r+b") as f:  # the block group descriptors of a 1 KiB-block ext4
            f.seek(2048)
            f.write(b"\xff" * 1024)

    script = _script(tmp_path, "exit 0\n")
    with pytest.raises(ImageError, match=r"failed, nothing was kept but the script's log, .*failed/2-.*: e2fsck"
                                         r" .*the new disk's file system has errors"):
        update(built, FakeHypervisor(update_guest=vandal), UpdateRequest(IMAGE, script, VM_TYPE, "hv01"),
               lambda _l: None, lambda _l: None)
    assert built.library.versions(IMAGE) == [1]
    assert len(list((built.library.image_dir(IMAGE) / "failed").iterdir())) == 1


def test_a_tampered_parent_is_not_updated(built, tmp_path) -> None:
    disk = built.library.disk(IMAGE, 1)
    os.chmod(disk.parent, 0o755)
    os.chmod(disk, 0o644)
    with open(disk, "r+b") as f:
        f.seek(5000)
        f.write(b"X")
    script = _script(tmp_path, "exit 0\n")
    with pytest.raises(ImageError, match="does not match its manifest"):
        update(built, FakeHypervisor(update_guest=guest), UpdateRequest(IMAGE, script, VM_TYPE, "hv01"),
               lambda _l: None, lambda _l: None)


def test_a_file_named_like_the_script_disks_own_is_refused(built, tmp_path) -> None:
    script = _script(tmp_path, "exit 0\n")
    (tmp_path / "x").mkdir()
    clash = tmp_path / "x" / "status"
    clash.write_text("")
    with pytest.raises(ImageError, match="keeps 'status' for itself"):
        update(built, FakeHypervisor(update_guest=guest), UpdateRequest(IMAGE, script, VM_TYPE, "hv01", files=(clash,)),
               lambda _l: None, lambda _l: None)


def test_diff_shows_what_changed_and_each_update_between_two_versions_and_log_the_scripts_output(
        built, tmp_path, monkeypatch, capsys) -> None:
    for n in (2, 3):
        script = _script(tmp_path, f'echo "update {n}"\necho {n} > "$ROOT/marker{n}"\n')
        update(built, FakeHypervisor(update_guest=guest),
               UpdateRequest(IMAGE, script, VM_TYPE, "hv01", parent=n - 1, note=f"u{n}"), lambda _l: None, lambda _l: None)
    config = tmp_path / "wnod.toml"
    config.write_text(f'[host]\nname = "hv01"\n[images]\nlibrary = "{built.library.root}"\n')
    monkeypatch.setenv("WNOD_LOAD_PLUGINS", "")

    def wnod(*args: str) -> str:
        with pytest.raises(SystemExit) as done:
            main(["--config", str(config), "--state-dir", str(tmp_path / "state"), *args])
        out, err = capsys.readouterr()
        assert done.value.code == 0, out + err
        return out

    m1, m3 = built.library.manifest(IMAGE, 1), built.library.manifest(IMAGE, 3)
    lines = wnod("image", "diff", f"{IMAGE}@1", f"{IMAGE}@3").splitlines()
    assert "version: 1 -> 3" in lines and f"sha256: {m1.sha256} -> {m3.sha256}" in lines
    assert f"note: {m1.note} -> u3" in lines
    steps = [line for line in lines if line.startswith(f"{IMAGE}@")]
    assert [s.split(" from ")[0] for s in steps] == [f"{IMAGE}@2", f"{IMAGE}@3"], lines
    assert steps[0].startswith(f"{IMAGE}@2 from {IMAGE}@1: ") and steps[1].endswith(": u3")
    assert wnod("image", "diff", f"{IMAGE}@3", f"{IMAGE}@1").splitlines()[-1] == (
        f"{IMAGE}@3 is not an ancestor of {IMAGE}@1 in this library")
    assert wnod("image", "log", f"{IMAGE}@3") == "update 3\n"
