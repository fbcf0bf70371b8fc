"""Which certificate authorities hogkit's TLS connections trust.

Verification is always on. By default the system's store is trusted, as OpenSSL finds it
(so `SSL_CERT_FILE` and `SSL_CERT_DIR` already point it elsewhere). `REQUESTS_CA_BUNDLE`,
then `CURL_CA_BUNDLE`, name a bundle (a PEM file, or a directory of hashed certificates)
to trust instead, as requests reads them: posthog-python sends through requests, so an
application behind a proxy that re-signs TLS with its own authority, configured that way,
keeps delivering after it switches SDKs.

A bundle that does not exist is logged and the system's store is trusted instead:
verification still happens, and a typo in a deployment's environment does not cost every
event it sends.

The environment is read per request, as the proxy variables are; `http` keeps one pool
per bundle, so the check that the bundle exists runs when its pool is built.

requests trusts certifi's bundle rather than the system's store, so posthog-python keeps
working on a Python that has no store at all (python.org's macOS builds until their
"Install Certificates" step has run). hogkit adds no dependency for that case; instead
`check_system_store` says once, before the first HTTPS request fails, what to set.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl

__all__ = ["BUNDLE_VARIABLES", "bundle", "check_system_store", "ssl_context", "urllib3_options"]

log = logging.getLogger("hogkit.transport.trust")

BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def bundle() -> str | None:
    """The bundle the environment names, or None for the system's store (an empty
    variable names nothing, as in requests)."""
    for name in BUNDLE_VARIABLES:
        path = os.environ.get(name)
        if path:
            return path
    return None


def _usable(path: str) -> bool:
    if os.path.exists(path):
        return True
    log.warning(
        "the certificate bundle %s (from %s) does not exist; trusting the system's "
        "certificate authorities instead",
        path,
        " or ".join(BUNDLE_VARIABLES),
    )
    return False


def urllib3_options(path: str | None) -> dict[str, str]:
    """Keyword arguments for a urllib3 pool manager that trusts bundle `path` (None: the
    system's store)."""
    if path is None or not _usable(path):
        return {}
    return {"ca_cert_dir": path} if os.path.isdir(path) else {"ca_certs": path}


@functools.cache
def check_system_store() -> bool:
    """Whether the system's store holds any certificate authority; the first call in a
    process logs a warning when it holds none, since every HTTPS request trusting it is
    then bound to fail verification. OpenSSL's default file or directory settles it
    without loading anything; only when neither exists is a context built, for the
    platforms that fill it from elsewhere (Windows' own store)."""
    paths = ssl.get_default_verify_paths()
    # Each is None when it does not exist (typeshed says str).
    if paths.cafile or _has_entries(paths.capath):
        return True
    if ssl.create_default_context().cert_store_stats()["x509_ca"]:
        return True
    log.warning(
        "this Python has no certificate authorities to verify TLS with, so HTTPS requests "
        "will fail; point SSL_CERT_FILE or %s at a CA bundle (`python -m certifi` prints "
        "the path of the one requests uses)",
        BUNDLE_VARIABLES[0],
    )
    return False


def _has_entries(directory: str | None) -> bool:
    if directory is None:
        return False
    try:
        with os.scandir(directory) as entries:
            return any(True for _ in entries)
    except OSError:
        return False


def ssl_context(path: str | None) -> ssl.SSLContext | bool:
    """What aiohttp's `ssl=` takes for bundle `path`: a verifying context that trusts it,
    or True (aiohttp's own verifying default) for the system's store."""
    if path is None or not _usable(path):
        check_system_store()
        return True
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)
