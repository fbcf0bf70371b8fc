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
"""

from __future__ import annotations

import logging
import os
import ssl

__all__ = ["BUNDLE_VARIABLES", "bundle", "ssl_context", "urllib3_options"]

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


def ssl_context(path: str | None) -> ssl.SSLContext | bool:
    """What aiohttp's `ssl=` takes for bundle `path`: a verifying context that trusts it,
    or True (aiohttp's own verifying default) for the system's store."""
    if path is None or not _usable(path):
        return True
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)
