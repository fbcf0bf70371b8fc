"""hogkit.core: the pure engine.

Everything here is a function of its arguments: no I/O, threads, clock, randomness,
environment or logging. Time, ids and source lines come in as arguments, so the same
inputs always give the same outputs, and any test suite or SDK can embed it.
"""

from .errors import DefinitionsError, HogkitError
from .reasons import PRECEDENCE, Unresolved
from .version import __version__

__all__ = ["PRECEDENCE", "DefinitionsError", "HogkitError", "Unresolved", "__version__"]
