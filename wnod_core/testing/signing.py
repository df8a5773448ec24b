"""Signing keys as an image builder's host has them: a real ``ssh-keygen`` ed25519 key pair and
the allowed-signers file every host of the farm trusts it with (for wnod's signature namespace)."""

import subprocess
from pathlib import Path

import attrs

from ..images.signing import NAMESPACE


@attrs.frozen
class SigningKeys:
    private: Path
    allowed_signers: Path
    principal: str


def signing_keys(where: Path, principal: str) -> SigningKeys:
    """A new key pair in `where` for `principal` ("builder@farm.test"), and its allowed-signers file."""
    name = principal.split("@")[0]
    key = where / f"{name}_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", str(key)], check=True)
    kind, public = key.with_suffix(".pub").read_text().split()[:2]
    signers = where / f"{name}.allowed_signers"
    signers.write_text(f'{principal} namespaces="{NAMESPACE}" {kind} {public}\n')
    return SigningKeys(key, signers, principal)
