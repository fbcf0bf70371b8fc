"""The runtime facts every captured event carries, read once per process.

posthog-python recomputes these (and reads /etc/os-release through `distro`) on every
capture call; they cannot change while the process runs, so hogkit reads them once and hands
them to the core's `EventContext`.
"""

from __future__ import annotations

import functools
import platform
import sys
from typing import Any

__all__ = [
    "system_properties",
]


@functools.cache
def system_properties() -> dict[str, Any]:
    """`$python_runtime`, `$python_version`, `$os`, `$os_version` and, on Linux, `$os_distro`."""
    os_name, os_version, distro = _os_info(sys.platform)
    props: dict[str, Any] = {
        "$python_runtime": platform.python_implementation(),
        "$python_version": "{}.{}.{}".format(*sys.version_info[:3]),
        "$os": os_name,
        "$os_version": os_version,
    }
    if distro:
        props["$os_distro"] = distro
    return props


def _os_info(name: str) -> tuple[str, str, str]:
    """(OS name as PostHog's UIs spell it, version, Linux distribution name)."""
    if name.startswith("linux"):
        try:
            release = platform.freedesktop_os_release()
        except OSError:
            return "Linux", "", ""
        return "Linux", release.get("VERSION_ID", ""), release.get("NAME", "")
    if name.startswith("win"):
        return "Windows", platform.win32_ver()[0] or "", ""
    if name == "darwin":
        return "Mac OS X", platform.mac_ver()[0] or "", ""
    if name.startswith("freebsd"):
        return "FreeBSD", platform.release(), ""
    return name, platform.release(), ""
