"""hogkit: a fast PostHog SDK for Python, with local flag evaluation at its core.

This package is the public surface: everything an application needs is importable from
here (`from hogkit import Client, FlagSet`). `hogkit.core` is the pure engine (no I/O) and
`hogkit.transport` the shell that adds the clock, threads and the network around it.

The context functions (`new_context`, `tag`, `identify_context`, ...) work without a
client: events captured inside a context, on any client, get its values.

Names are imported on first use, so `import hogkit.core` on its own still loads no
networking or threading modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hogkit.core.version import __version__

if TYPE_CHECKING:
    from hogkit.core import (
        DefinitionsError,
        Event,
        FlagResult,
        FlagSet,
        HogkitError,
        InvalidEvent,
        Problem,
        Reason,
        Snapshot,
        Unresolved,
    )
    from hogkit.transport import (
        Client,
        FileTransport,
        FlagEvaluations,
        FlagsTransport,
        HttpFlagsTransport,
        HttpTransport,
        MemoryTransport,
        SendResult,
        Transport,
    )
    from hogkit.transport.async_client import (
        AsyncClient,
    )
    from hogkit.transport.async_http import (
        AsyncTransport,
    )
    from hogkit.transport.contexts import (
        get_context_device_id,
        get_context_distinct_id,
        get_context_session_id,
        get_tags,
        identify_context,
        new_context,
        scoped,
        set_context_device_id,
        set_context_session,
        tag,
    )
    from hogkit.transport.errors import (
        DeliveryFailed,
        EventTooLarge,
        QueueFull,
    )
    from hogkit.transport.hosts import (
        InvalidHost,
    )
    from hogkit.transport.http import (
        HttpError,
        NetworkError,
        StatusError,
    )

_HOMES: dict[str, str] = {
    "DefinitionsError": "hogkit.core",
    "Event": "hogkit.core",
    "FlagResult": "hogkit.core",
    "FlagSet": "hogkit.core",
    "HogkitError": "hogkit.core",
    "InvalidEvent": "hogkit.core",
    "Problem": "hogkit.core",
    "Reason": "hogkit.core",
    "Snapshot": "hogkit.core",
    "Unresolved": "hogkit.core",
    "Client": "hogkit.transport",
    "FileTransport": "hogkit.transport",
    "FlagEvaluations": "hogkit.transport",
    "FlagsTransport": "hogkit.transport",
    "HttpFlagsTransport": "hogkit.transport",
    "HttpTransport": "hogkit.transport",
    "MemoryTransport": "hogkit.transport",
    "SendResult": "hogkit.transport",
    "Transport": "hogkit.transport",
    "AsyncClient": "hogkit.transport.async_client",
    "AsyncTransport": "hogkit.transport.async_http",
    "DeliveryFailed": "hogkit.transport.errors",
    "EventTooLarge": "hogkit.transport.errors",
    "QueueFull": "hogkit.transport.errors",
    "HttpError": "hogkit.transport.http",
    "NetworkError": "hogkit.transport.http",
    "StatusError": "hogkit.transport.http",
    "InvalidHost": "hogkit.transport.hosts",
    "new_context": "hogkit.transport.contexts",
    "scoped": "hogkit.transport.contexts",
    "tag": "hogkit.transport.contexts",
    "get_tags": "hogkit.transport.contexts",
    "identify_context": "hogkit.transport.contexts",
    "set_context_session": "hogkit.transport.contexts",
    "set_context_device_id": "hogkit.transport.contexts",
    "get_context_distinct_id": "hogkit.transport.contexts",
    "get_context_session_id": "hogkit.transport.contexts",
    "get_context_device_id": "hogkit.transport.contexts",
}

__all__ = [
    "AsyncClient",
    "AsyncTransport",
    "Client",
    "DefinitionsError",
    "DeliveryFailed",
    "Event",
    "EventTooLarge",
    "FileTransport",
    "FlagEvaluations",
    "FlagResult",
    "FlagSet",
    "FlagsTransport",
    "HogkitError",
    "HttpError",
    "HttpFlagsTransport",
    "HttpTransport",
    "InvalidEvent",
    "InvalidHost",
    "MemoryTransport",
    "NetworkError",
    "Problem",
    "QueueFull",
    "Reason",
    "SendResult",
    "Snapshot",
    "StatusError",
    "Transport",
    "Unresolved",
    "__version__",
    "get_context_device_id",
    "get_context_distinct_id",
    "get_context_session_id",
    "get_tags",
    "identify_context",
    "new_context",
    "scoped",
    "set_context_device_id",
    "set_context_session",
    "tag",
]


def __getattr__(name: str) -> Any:
    """Import a public name from the module that defines it, once."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'hogkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
