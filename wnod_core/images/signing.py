"""Signatures of image manifests, made and checked by ``ssh-keygen -Y`` — every host has it, its
keys are the ones admins already manage, and nothing here does cryptography by hand."""

from pathlib import Path

from ..commands import run
from ..errors import ImageError

NAMESPACE = "wnod-image"
"""ssh-keygen's signature namespace: a signature made for something else (a git commit, a
file) never passes as an image's."""


def sign(manifest: Path, key: Path, *, timeout: float, tool: str = "ssh-keygen") -> Path:
    """Sign `manifest` with the private `key`; the signature is written beside it as ``.sig``."""
    signature = manifest.with_name(manifest.name + ".sig")
    signature.unlink(missing_ok=True)  # ssh-keygen will not overwrite one
    run([tool, "-q", "-Y", "sign", "-f", str(key), "-n", NAMESPACE, str(manifest)],
        timeout=timeout, error=ImageError).check(f"could not sign {manifest} with {key}")
    if not signature.is_file():
        raise ImageError(f"signing {manifest} with {key} left no signature at {signature}")
    return signature


def verify(manifest: Path, signature: Path, allowed_signers: Path, *, timeout: float,
           tool: str = "ssh-keygen") -> str:
    """Who of `allowed_signers` signed `manifest` (its principal); ImageError if nobody there did."""
    if not signature.is_file():
        raise ImageError(f"{manifest}: not signed (no {signature.name}), and {allowed_signers} requires a signature")
    found = run([tool, "-Y", "find-principals", "-s", str(signature), "-f", str(allowed_signers)],
                timeout=timeout, error=ImageError)
    principals = found.stdout.split()
    if found.returncode != 0 or not principals:
        raise ImageError(f"{manifest}: its signature is by nobody {allowed_signers} allows"
                         f" ({found.output.strip() or 'no principal matches the key'})")
    checked = run([tool, "-Y", "verify", "-f", str(allowed_signers), "-I", principals[0], "-n", NAMESPACE,
                   "-s", str(signature)], timeout=timeout, error=ImageError,
                  input=manifest.read_text(encoding="utf-8", errors="surrogateescape"))
    if checked.returncode != 0:
        raise ImageError(f"{manifest}: bad signature, the manifest is not what {principals[0]} signed"
                         f" ({checked.output.strip()})")
    return principals[0]
