"""TLS for the TCP API: the daemon's server context from its certificate and key, and a client's
context that trusts a given CA. The standard library's ``ssl``, TLS 1.2 at least."""

import os
import ssl
import stat
from pathlib import Path


def server_context(cert_file: str, key_file: str, *, named: tuple[str, str] = ("daemon.tls_cert_file",
                                                                              "daemon.tls_key_file")) -> ssl.SSLContext:
    """A server's side (the daemon's, or ``wnod farm web``'s); ValueError naming the setting
    (`named`: the certificate's and the key's), the file, and what is wrong with it."""
    cert_name, key_name = named
    try:
        mode = os.stat(key_file).st_mode
    except OSError as exc:
        raise ValueError(f"{key_name}: cannot read {key_file}: {exc.strerror}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise ValueError(f"{key_name}: {key_file} may be read by others; chmod 600 it")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except FileNotFoundError as exc:
        raise ValueError(f"{cert_name}: cannot read {exc.filename or cert_file}: {exc.strerror}") from None
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"{cert_name}: {cert_file} and {key_file} are not a PEM certificate and its"
                         f" key: {exc}") from None
    return context


def client_context(ca_file: str) -> ssl.SSLContext:
    """A client's side, trusting the CA (or self-signed certificate) in `ca_file`, and checking
    that the daemon's certificate names the address asked for. ValueError if it cannot be read."""
    if not Path(ca_file).is_file():
        raise ValueError(f"cannot read {ca_file}: not a file")
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"{ca_file} holds no PEM certificate: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
