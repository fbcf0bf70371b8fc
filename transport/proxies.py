"""Which proxy, if any, a request goes through: the environment's `HTTPS_PROXY`,
`HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), as requests, and so posthog-python,
reads them.

urllib's readers decide (`getproxies_environment`, `proxy_bypass`), so the rules are
exactly the standard library's. They scan the whole environment, which costs tens of
microseconds a request, so their answer is kept for as long as the variables that can
change it keep their values: each request reads those few names, and asks urllib again
only when one of them changed.
"""

from __future__ import annotations

import os
import urllib.request

__all__ = ["proxy_for"]

# The variables that decide a proxy for http and https, in both cases. A CGI environment
# (`REQUEST_METHOD`) makes urllib ignore HTTP_PROXY, so it is watched too.
_WATCHED = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "REQUEST_METHOD",
)

# Hosts whose bypass decision is kept; a process talks to a handful.
_HOSTS = 64
# (the watched values, urllib's proxies for them, bypass decisions by host).
_memo: tuple[tuple[str | None, ...], dict[str, str], dict[str, bool]] | None = None


def proxy_for(scheme: str, host: str) -> str | None:
    """The proxy URL for a request to `host` over `scheme`, or None to connect directly.
    A proxy given without a scheme is an http one."""
    global _memo
    environ = os.environ
    watched = tuple(map(environ.get, _WATCHED))
    memo = _memo
    if memo is None or memo[0] != watched:
        memo = _memo = (watched, urllib.request.getproxies_environment(), {})
    proxy = memo[1].get(scheme) or memo[1].get("all")
    if not proxy:
        return None
    decided = memo[2]
    bypass = decided.get(host)
    if bypass is None:
        if len(decided) >= _HOSTS:
            decided.clear()
        bypass = decided[host] = bool(urllib.request.proxy_bypass(host))
    if bypass:
        return None
    return proxy if "://" in proxy else "http://" + proxy
