"""hogkit.transport: the imperative shell around `hogkit.core`.

It owns what the core must not touch: time, ids, threads, the network and files.
"""

from hogkit.core.version import __version__

__all__ = ["__version__"]
