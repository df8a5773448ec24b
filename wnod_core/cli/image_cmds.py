"""``wnod image``: this host's image library — make versions (import, update), move them (push,
pull), choose the one new VWNs get (publish, rollback), look at them, and remove them.

A thin shim over ``wnod_core.images``; see docs/images.md for the admin's workflow."""

from collections.abc import Callable
from pathlib import Path

import attrs
import click

from ..errors import ImageError
from ..farm import FARM_ENV, HostAnswer
from ..farm import images as farm_images
from ..farm.config import find_farm
from ..images import HostImages, Manifest, parse_ref
from ..images.host import versions_in_use
from ..images.seal import import_disk
from ..images.update import UpdateRequest, update
from ..model import ImageSource, VmType
from ..text import did_you_mean
from .context import CliContext, pass_wnod
from .output import emit_json, emit_table, json_option
from .types import DURATION

hosts_option = click.option(
    "--hosts", "hosts", multiple=True, metavar="H,...",
    help=f"Hosts of the farm file, by name (comma-separated or repeated; `{farm_images.ALL}`: every one),"
         " each asked through its daemon's TCP API instead of this host.")
fraction_option = click.option(
    "--fraction", type=click.FloatRange(min=0, max=1, min_open=True), default=None, metavar="F",
    help="This fraction of the farm's hosts (0 < F <= 1), in an order fixed per image: a larger F takes"
         " the hosts of a smaller one and more.")
farm_option = click.option(
    "--farm", "farm_path", type=click.Path(dir_okay=False), default=None,
    help=f"The farm file for --hosts and --fraction. [env: {FARM_ENV}; default: farm.toml in the XDG"
         " config directories]")
wait_option = click.option(
    "--wait", type=DURATION, default="30m", show_default=True,
    help="How long each host of the farm may take (a pull copies the whole disk).")


def _images(wnod: CliContext) -> HostImages:
    return HostImages.of(wnod.site.config.images)


def _exact(ref: str) -> tuple[str, int]:
    image, version = parse_ref(ref)
    if version is None:
        raise click.BadParameter(f"name the version: {image}@N (wnod image status {image} lists them)")
    return image, version


def _library_types(wnod: CliContext, image: str) -> list[VmType]:
    return [t for t in wnod.site.config.vm_types.values()
            if t.image_source is ImageSource.LIBRARY and t.image == image]


def _in_use(wnod: CliContext, image: str) -> dict[int, int]:
    """VWNs of this host per version of `image`, from the daemon's records (read only)."""
    from ..daemon.run import STORE_NAME
    from ..engine.store import image_versions_in_use

    alive = image_versions_in_use(wnod.dirs.state / STORE_NAME)
    return versions_in_use(wnod.site.config.vm_types.values(), image, alive)


def _say(line: str) -> None:
    click.echo(f"== {line}", err=True)


def _prune(wnod: CliContext, images: HostImages, image: str) -> None:
    removed = images.prune(image, _in_use(wnod, image))
    if removed:
        _say(f"pruned {', '.join(f'{image}@{v}' for v in removed)} (keep = {images.section.keep})")


@click.group("image")
def image_group() -> None:
    """This host's image library: versions of each image, and which one new VWNs get (docs/images.md)."""


@image_group.command("list")
@json_option
@pass_wnod
def list_command(wnod: CliContext, as_json: bool) -> None:
    """The images of the library, their versions and the one current on this host."""
    images = _images(wnod)
    rows = []
    for image in images.library.images():
        state = images.rollout(image)
        rows.append({"image": image, "versions": images.library.versions(image), "current": state.current,
                     "vm_types": [t.name for t in _library_types(wnod, image)]})
    if as_json:
        emit_json({"images": rows})
        return
    emit_table(["IMAGE", "CURRENT", "VERSIONS", "VM TYPES"],
               [[r["image"], r["current"] or "-", " ".join(map(str, r["versions"])) or "-",
                 " ".join(r["vm_types"]) or "-"] for r in rows])


@image_group.command("status")
@click.argument("image")
@json_option
@hosts_option
@farm_option
@pass_wnod
def status_command(wnod: CliContext, image: str, as_json: bool, hosts: tuple[str, ...], farm_path: str | None) -> None:
    """Each version of IMAGE here: current, the rollback target, and how many VWNs use it; with
    --hosts, on each of those hosts of the farm."""
    name, _ = parse_ref(image)
    if hosts:
        _farm_status(name, as_json, hosts, farm_path)
        return
    images = _images(wnod)
    rows = images.status(name, _in_use(wnod, name))
    if as_json:
        emit_json({"image": name, "versions": [r.as_dict() for r in rows]})
        return
    emit_table(["VERSION", "STATE", "VWNS", "CREATED", "PARENT", "NOTE"],
               [[f"{name}@{r.version}", "current" if r.current else ("rollback" if r.rollback_target else "cached"),
                 r.in_use, r.manifest.created, r.manifest.parent or "-", r.manifest.note] for r in rows])


@image_group.command("show")
@click.argument("ref", metavar="IMAGE[@VERSION]")
@json_option
@pass_wnod
def show_command(wnod: CliContext, ref: str, as_json: bool) -> None:
    """A version's manifest (the current one if no version is given)."""
    images = _images(wnod)
    image, version = parse_ref(ref)
    if version is None:
        version = images.rollout(image).current
        if version is None:
            raise ImageError(f"no version of {image} is current on this host: name one, {image}@N")
    manifest = images.library.manifest(image, version)
    if as_json:
        emit_json(attrs.asdict(manifest))
        return
    for key, value in attrs.asdict(manifest).items():
        click.echo(f"{key + ':':<15}{'-' if value in (None, '') else value}")


@image_group.command("log")
@click.argument("ref", metavar="IMAGE@VERSION")
@pass_wnod
def log_command(wnod: CliContext, ref: str) -> None:
    """What the update script printed when it made IMAGE@VERSION."""
    click.echo(_images(wnod).library.log(*_exact(ref)), nl=False)


@image_group.command("diff")
@click.argument("old", metavar="IMAGE@A")
@click.argument("new", metavar="IMAGE@B")
@pass_wnod
def diff_command(wnod: CliContext, old: str, new: str) -> None:
    """How IMAGE@B differs from IMAGE@A: its manifest, and each update between them."""
    images = _images(wnod)
    (image, a), (image_b, b) = _exact(old), _exact(new)
    if image != image_b:
        raise click.BadParameter(f"{old} and {new} are versions of different images")
    ma, mb = images.library.manifest(image, a), images.library.manifest(image, b)
    for key, va in attrs.asdict(ma).items():
        vb = getattr(mb, key)
        if va != vb:
            click.echo(f"{key}: {va} -> {vb}")
    chain: list[Manifest] = []
    step: Manifest | None = mb
    while step is not None and step.version != a:
        chain.append(step)
        step = images.library.manifest(image, step.parent) if step.parent and images.library.has(image, step.parent) else None
    if step is None:
        click.echo(f"{image}@{a} is not an ancestor of {image}@{b} in this library")
        return
    for m in reversed(chain):
        click.echo(f"{m.ref} from {image}@{m.parent}: {m.created} by {m.created_by}, script {m.script_sha256[:12] or '-'}"
                   f"{f': {m.note}' if m.note else ''}")


@image_group.command("import")
@click.argument("image")
@click.argument("disk", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="", help="What this version is, kept in its manifest.")
@pass_wnod
def import_command(wnod: CliContext, image: str, disk: Path, note: str) -> None:
    """Make DISK (a raw disk image made elsewhere) the next version of IMAGE, unpublished."""
    images = _images(wnod)
    manifest = import_disk(images, parse_ref(image)[0], disk, _say, note)
    _prune(wnod, images, manifest.image)
    click.echo(manifest.ref)


@image_group.command("update")
@click.argument("image")
@click.option("--script", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Run as root inside the update VM, on the new version's disk mounted read-write.")
@click.option("--with", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file put beside the script on its disk (e.g. a .deb it installs); repeatable.")
@click.option("--from", "parent", type=click.IntRange(min=1), default=None,
              help="The version to start from. [default: the current one here, else the newest]")
@click.option("--vm-type", "vm_type", default=None,
              help="The VM type whose domain design the update VM takes. [default: the one using IMAGE]")
@click.option("--note", default="", help="What this version changes, kept in its manifest.")
@pass_wnod
def update_command(wnod: CliContext, image: str, script: Path, files: tuple[Path, ...], parent: int | None,
                   vm_type: str | None, note: str) -> None:
    """Make the next version of IMAGE with an update VM running SCRIPT; built, not published."""
    images = _images(wnod)
    name = parse_ref(image)[0]
    chosen = _update_type(wnod, name, vm_type)
    request = UpdateRequest(image=name, script=script, vm_type=chosen, host=wnod.site.config.host.name,
                            parent=parent, files=files, note=note)
    hypervisor = wnod.site.hypervisor
    try:
        manifest = update(images, hypervisor, request, _say, lambda line: click.echo(f"| {line}", err=True))
    finally:
        hypervisor.close()
    _prune(wnod, images, name)
    click.echo(manifest.ref)


def _update_type(wnod: CliContext, image: str, wanted: str | None) -> VmType:
    types = wnod.site.config.vm_types
    if wanted is not None:
        if wanted not in types:
            raise click.BadParameter(f'no VM type "{wanted}"{did_you_mean(wanted, types)}', param_hint="--vm-type")
        return types[wanted]
    using = _library_types(wnod, image)
    if len(using) != 1:
        which = ", ".join(t.name for t in using) or "none"
        raise click.BadParameter(f"{len(using)} VM types use library image {image} ({which}): choose one",
                                 param_hint="--vm-type")
    return using[0]


@image_group.command("push")
@click.argument("ref", metavar="IMAGE@VERSION")
@pass_wnod
def push_command(wnod: CliContext, ref: str) -> None:
    """Copy IMAGE@VERSION to the image source ([images] source, a directory), for the other hosts."""
    images = _images(wnod)
    image, version = _exact(ref)
    click.echo(images.source().push(images.library, image, version))


@image_group.command("pull")
@click.argument("ref", metavar="IMAGE[@VERSION]")
@pass_wnod
def pull_command(wnod: CliContext, ref: str) -> None:
    """Copy a version (the newest if none is named) from the image source and verify it."""
    images = _images(wnod)
    image, version = parse_ref(ref)
    manifest, copied = images.pull(image, version)
    _say(f"{manifest.ref} {'pulled and verified' if copied else 'was already here'}")
    _prune(wnod, images, image)
    click.echo(manifest.ref)


@image_group.command("verify")
@click.argument("ref", metavar="IMAGE@VERSION")
@pass_wnod
def verify_command(wnod: CliContext, ref: str) -> None:
    """Check IMAGE@VERSION again: its disk against its manifest, and its signature if required."""
    manifest = _images(wnod).check(*_exact(ref))
    click.echo(f"{manifest.ref}: good (sha256 {manifest.sha256})")


@image_group.command("publish")
@click.argument("ref", metavar="IMAGE@VERSION")
@hosts_option
@fraction_option
@farm_option
@wait_option
@pass_wnod
def publish_command(wnod: CliContext, ref: str, hosts: tuple[str, ...], fraction: float | None,
                    farm_path: str | None, wait: float) -> None:
    """Make IMAGE@VERSION the one new VWNs of its types get on this host (pulled first if needed);
    with --hosts or --fraction, on those hosts of the farm, each pulling it from the image source.

    Running VWNs keep their version; idle ones of another version are retired at their next
    reuse decision."""
    image, version = _exact(ref)
    if hosts or fraction is not None:
        _farm_change(farm_images.publish, image, version, hosts, fraction, farm_path, wait)
        return
    images = _images(wnod)
    before, after = images.publish(image, version)
    was = f"{image}@{before.current}" if before.current else "none"
    click.echo(f"{image}: current {was} -> {image}@{after.current}")
    _prune(wnod, images, image)


@image_group.command("rollback")
@click.argument("ref", metavar="IMAGE[@VERSION]")
@hosts_option
@fraction_option
@farm_option
@wait_option
@pass_wnod
def rollback_command(wnod: CliContext, ref: str, hosts: tuple[str, ...], fraction: float | None,
                     farm_path: str | None, wait: float) -> None:
    """Make the version that was current before the current one current again on this host; with
    --hosts or --fraction, go back from IMAGE@VERSION on those hosts of the farm where it is current."""
    image, version = parse_ref(ref)
    if hosts or fraction is not None:
        if version is None:
            raise click.BadParameter(f"name the version to go back from, {image}@N: a host where it is not"
                                     " current keeps what it has", param_hint="IMAGE[@VERSION]")
        _farm_change(farm_images.rollback, image, version, hosts, fraction, farm_path, wait)
        return
    before, after = _images(wnod).rollback(image, only_from=version)
    if before == after:
        raise ImageError(f"{image}@{version} is not current on this host (current: {image}@{before.current}):"
                         " nothing rolled back")
    click.echo(f"{image}: current {image}@{before.current} -> {image}@{after.current}")


# -- across the farm -------------------------------------------------------------------------------


def _farm_change(change: Callable[..., list[HostAnswer]], image: str, version: int, hosts: tuple[str, ...],
                 fraction: float | None, farm_path: str | None, wait: float) -> None:
    farm = find_farm(farm_path)
    chosen = farm_images.choose_hosts(farm, image, _split(hosts), fraction)
    answers = change(farm, image, version, chosen, wait)
    rows = []
    for a in answers:
        if not a.reachable:
            # No answer is not a no: the host may still be pulling, and publish when done.
            later = "" if a.refused else f" (it may still take effect: wnod image status {image} --hosts {a.host.name})"
            rows.append([a.host.name, "-", "-", "-", a.error + later])
            continue
        d = a.data
        pruned = " ".join(f"{image}@{v}" for v in d["pruned"]) or "-"
        note = "" if d["changed"] else (f"{image}@{version} is not current here: left as it is"
                                        if change is farm_images.rollback else "already current")
        rows.append([a.host.name, _at(image, d["before"]), _at(image, d["after"]), pruned, note])
    emit_table(["HOST", "BEFORE", "AFTER", "PRUNED", "NOTE"], rows)
    changed = sum(1 for a in answers if a.reachable and a.data["changed"])
    click.echo(f"{image}: changed on {changed} of {len(answers)} host(s) chosen, of {len(farm.farm.hosts)}", err=True)
    if not all(a.reachable for a in answers):
        raise click.exceptions.Exit(1)


def _farm_status(image: str, as_json: bool, hosts: tuple[str, ...], farm_path: str | None) -> None:
    farm = find_farm(farm_path)
    answers = farm_images.status(farm, image, farm_images.choose_hosts(farm, image, _split(hosts)))
    if as_json:
        emit_json({"image": image, "hosts": [{"name": a.host.name, "error": a.error or None, "status": a.data}
                                             for a in answers]})
    else:
        rows = []
        for a in answers:
            if not a.reachable:
                rows.append([a.host.name, "-", "-", "-", a.error])
                continue
            versions = a.data["versions"]
            cached = " ".join(str(v["version"]) for v in versions) or "-"
            in_use = ", ".join(f"{v['in_use']} on @{v['version']}" for v in versions if v["in_use"]) or "none"
            rows.append([a.host.name, _at(image, a.data["current"]), cached, in_use, ""])
        emit_table(["HOST", "CURRENT", "CACHED", "VWNS", "NOTE"], rows)
    if not all(a.reachable for a in answers):
        raise click.exceptions.Exit(1)


def _at(image: str, version: int | None) -> str:
    return "none" if version is None else f"{image}@{version}"


def _split(hosts: tuple[str, ...]) -> list[str]:
    return [name.strip() for given in hosts for name in given.split(",") if name.strip()]


@image_group.command("delete")
@click.argument("ref", metavar="IMAGE@VERSION")
@pass_wnod
def delete_command(wnod: CliContext, ref: str) -> None:
    """Remove IMAGE@VERSION from this host's library; refused while it is current or a VWN uses it."""
    images = _images(wnod)
    image, version = _exact(ref)
    images.delete(image, version, _in_use(wnod, image))
    click.echo(f"{image}@{version} deleted")
