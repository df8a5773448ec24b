"""An image version across the farm: three real daemons, each with its own library, one image
source they pull from, one build host that signs and pushes; ``wnod image publish|rollback|status
--hosts/--fraction`` asks each chosen host's daemon over its TCP API with the admin's token.
"""

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from wnod_core.farm import load_farm
from wnod_core.farm.images import choose_hosts, rollout_order
from wnod_core.testing.requirements import missing_commands, missing_module, require
from wnod_core.testing.signing import SigningKeys, signing_keys
from wnod_core.testing.tamper import flip_byte

from .hosts import HOSTS, WNOD, Farm, token_file

pytestmark = pytest.mark.slow

IMAGE = "el9"


class ImageFarm:
    def __init__(self, farm: Farm, keys: SigningKeys):
        self.farm, self.keys = farm, keys
        self.source = farm.tmp / "source"
        self.admin = token_file(farm.tmp / "admin.token", "admin-token-" + "a" * 32)
        build = farm.tmp / "build"
        build.mkdir()
        self.build_config = build / "wnod.toml"
        self.build_config.write_text(f"""
[host]
name = "build"

[images]
library = "{build / 'images'}"
source = "{self.source}"
signing_key = "{keys.private}"
allowed_signers = "{keys.allowed_signers}"

[vm_types.el9]
image = "{IMAGE}"
image_source = "library"
""")

    def host_sections(self, name: str) -> dict[str, str]:
        return {"daemon_lines": f'token_file = "{self.admin}"',
                "el9_image": f'image = "{IMAGE}"\nimage_source = "library"',
                "extra": f"""
[images]
library = "{self.farm.home(name) / 'images'}"
source = "{self.source}"
allowed_signers = "{self.keys.allowed_signers}"
"""}

    def build(self, text: str) -> str:
        """A new version of the image on the build host, signed and pushed to the source: its ref."""
        disk = self.farm.tmp / f"{text}.raw"
        disk.write_bytes(text.encode() * 50_000)
        ref = self.wnod("--config", str(self.build_config), "image", "import", IMAGE, str(disk)).stdout.strip()
        self.wnod("--config", str(self.build_config), "image", "push", ref)
        return ref

    def farm_file(self, admin: bool = True) -> Path:
        return self.farm.farm_file(head=(f'admin_token_file = "{self.admin}"',) if admin else ())

    def wnod(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        env = {**self.farm.env, "WNOD_LOAD_PLUGINS": "", "WNOD_STATE_DIR": str(self.farm.tmp / "build" / "state")}
        done = subprocess.run([str(WNOD), *args], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == code, done.stdout + done.stderr
        return done

    def image(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        return self.wnod("image", *args, "--farm", str(self.farm_file()), code=code)

    def current(self) -> dict[str, int | None]:
        said = json.loads(self.image("status", IMAGE, "--hosts", "all", "--json").stdout)
        return {h["name"]: h["status"]["current"] for h in said["hosts"]}


@pytest.fixture
def images(tmp_path: Path, shared_fakes_dir: Path, shared_fakes_env: dict[str, str]) -> Iterator[ImageFarm]:
    require(missing_module("wnod_resolvers", "wnod-resolvers") or missing_commands("ssh-keygen"))
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    farm = Farm(tmp_path, shared_fakes_dir, shared_fakes_env)
    images = ImageFarm(farm, signing_keys(keys_dir, "builder@farm.test"))
    try:
        for name in HOSTS:
            farm.start(name, **images.host_sections(name))
        yield images
    finally:
        for name in list(farm.daemons):
            farm.stop(name)


def test_a_phased_rollout_grows_over_the_same_hosts_and_rolls_back_only_where_it_went(images: ImageFarm) -> None:
    shown: list[str] = []  # the commands as docs/images.md shows them, with what they printed

    def image(*args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        done = images.image(*args, code=code)
        shown.append(f"$ wnod image {' '.join(args)}\n{done.stdout}{done.stderr}")
        return done

    assert images.build("one") == f"{IMAGE}@1" and images.build("two") == f"{IMAGE}@2"
    done = image("publish", f"{IMAGE}@1", "--hosts", "all")
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:]}
    assert {h: r[1:3] for h, r in rows.items()} == {h: ["none", f"{IMAGE}@1"] for h in HOSTS}
    assert images.current() == dict.fromkeys(HOSTS, 1)

    # A job before v2: its VWN boots v1 and keeps it to its end, whatever is published meanwhile.
    order = rollout_order(load_farm(images.farm_file()), IMAGE)
    first = order[0]
    job = images.farm.batch.submit("alice", queue="batch").job_id
    assert "migrated" in images.farm.bait(first, job).stderr

    image("publish", f"{IMAGE}@2", "--fraction", "0.3")  # ceil(0.9): one host
    assert images.current() == {h: 2 if h == first else 1 for h in HOSTS}
    image("publish", f"{IMAGE}@2", "--fraction", "0.6")  # ceil(1.8): two, the first among them
    assert images.current() == {h: 2 if h in order[:2] else 1 for h in HOSTS}
    said = json.loads(images.image("status", IMAGE, "--hosts", first, "--json").stdout)["hosts"][0]["status"]
    assert {v["version"]: v["in_use"] for v in said["versions"]} == {1: 1, 2: 0}, "the running VWN keeps v1"
    vwns = images.farm.daemons[first].client().get("/v1/vwns")["vwns"]
    assert [(v["job_id"], v["image_version"]) for v in vwns] == [(job, "1")]

    # The next job of the type on that host boots v2: the library's disk of v2, pulled from the source.
    second = images.farm.batch.submit("bob", queue="batch").job_id
    assert "migrated" in images.farm.bait(first, second).stderr
    vwns = images.farm.daemons[first].client().get("/v1/vwns")["vwns"]
    assert sorted((v["job_id"], v["image_version"]) for v in vwns) == sorted([(job, "1"), (second, "2")])

    image("status", IMAGE, "--hosts", "all")
    done = image("rollback", f"{IMAGE}@2", "--hosts", "all")
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert f"{IMAGE}@1 is not current here" not in done.stdout
    assert "is not current here: left as it is" in rows[order[2]], done.stdout
    assert "changed on 2 of 3 host(s) chosen" in done.stderr
    assert images.current() == dict.fromkeys(HOSTS, 1), "the host that never had v2 did not go back further"
    # docs/images.md shows this very run: its farm-wide commands and their output cannot drift.
    page = (Path(__file__).parents[2] / "docs" / "images.md").read_text()
    block = re.search(r"### Across the farm\n.*?```console\n(.*?)```", page, re.S).group(1)
    real = "\n".join(line.rstrip() for line in "".join(shown).splitlines()) + "\n"
    assert block == real, f"docs/images.md's farm-wide example is not what wnod prints; it prints:\n{real}"


def test_a_tampered_version_is_refused_on_every_host_and_nothing_changes(images: ImageFarm) -> None:
    images.build("one")
    images.image("publish", f"{IMAGE}@1", "--hosts", "all")
    assert images.build("three") == f"{IMAGE}@2"
    flip_byte(images.source / IMAGE / "2" / "disk.raw", 1000)  # one byte, after it was signed
    done = images.image("publish", f"{IMAGE}@2", "--hosts", ",".join(HOSTS), code=1)
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    for host in HOSTS:
        assert "refused (HTTP 409)" in rows[host] and "sha256" in rows[host], done.stdout
        assert "may still take effect" not in rows[host], "a refusal is a no: nothing is left to land"
    assert images.current() == dict.fromkeys(HOSTS, 1)
    for host in HOSTS:
        assert not (images.farm.home(host) / "images" / IMAGE / "2").exists(), "nothing half-pulled is kept"


def test_hosts_that_cannot_publish_are_said_and_the_others_change(images: ImageFarm, tmp_path: Path) -> None:
    images.build("one")
    images.farm.stop("hv03")
    done = images.image("publish", f"{IMAGE}@1", "--hosts", "all", code=1)
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert "unreachable" in rows["hv03"] and f"wnod image status {IMAGE} --hosts hv03" in rows["hv03"]
    assert all(rows[h].split()[1:3] == ["none", f"{IMAGE}@1"] for h in ("hv01", "hv02")), done.stdout

    # The read token may look but never publish; a farm file without an admin token says so at once.
    read_only = images.farm.farm_file(head=(f'admin_token_file = "{images.farm.token}"',))
    done = images.wnod("image", "publish", f"{IMAGE}@1", "--hosts", "hv01", "--farm", str(read_only), code=1)
    assert "refused (HTTP 403)" in done.stdout and "needs the admin role" in done.stdout
    plain = images.farm_file(admin=False)
    done = images.wnod("image", "publish", f"{IMAGE}@1", "--hosts", "hv01", "--farm", str(plain), code=1)
    assert "host hv01 has no admin token" in done.stderr and "Traceback" not in done.stderr
    done = images.wnod("image", "publish", f"{IMAGE}@1", "--hosts", "hv09", "--farm", str(plain), code=1)
    assert "not a host of" in done.stderr and "hv09" in done.stderr
    done = images.wnod("image", "rollback", IMAGE, "--hosts", "all", "--farm", str(plain), code=2)
    assert f"name the version to go back from, {IMAGE}@N" in done.stderr


def test_the_rollout_order_is_fixed_per_image_and_a_larger_fraction_takes_a_smaller_ones_hosts(
        tmp_path: Path) -> None:
    token = token_file(tmp_path / "t", "t" * 40)
    lines = ["[farm]", f'token_file = "{token}"']
    for n in range(40):
        lines += ["[[farm.hosts]]", f'name = "hv{n:02d}"', f'address = "127.0.0.1:{9000 + n}"']
    path = tmp_path / "farm.toml"
    path.write_text("\n".join(lines) + "\n")
    farm = load_farm(path)
    for image in ("el9", "debian-science"):
        taken = [set(choose_hosts(farm, image, fraction=f / 10)) for f in range(1, 11)]
        assert [len(t) for t in taken] == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
        assert all(small <= big for small, big in zip(taken, taken[1:], strict=False))
    assert choose_hosts(farm, "el9", fraction=0.1) != choose_hosts(farm, "debian-science", fraction=0.1)
    assert len(choose_hosts(farm, "el9", fraction=0.001)) == 1, "at least one host"
