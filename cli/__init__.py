"""hogkit.cli: the `hogkit` command line (evaluate, check and fetch flag definitions).

A shell like the Client: it reads files, the clock and the network and leaves every flag
decision to `hogkit.core`.
"""

from .main import Streams, main, run

__all__ = ["Streams", "main", "run"]
