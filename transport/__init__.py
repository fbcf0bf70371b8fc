"""hogkit.transport: the imperative shell around `hogkit.core`.

It owns what the core must not touch: time, ids, threads, the network and files.
"""

from hogkit.core.version import __version__

from .client import Client
from .evaluations import FlagEvaluations
from .flags_transport import FlagsTransport, HttpFlagsTransport
from .transports import FileTransport, HttpTransport, MemoryTransport, SendResult, Transport

__all__ = [
    "Client",
    "FileTransport",
    "FlagEvaluations",
    "FlagsTransport",
    "HttpFlagsTransport",
    "HttpTransport",
    "MemoryTransport",
    "SendResult",
    "Transport",
    "__version__",
]
