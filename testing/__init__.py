"""hogkit.testing: fixed flag values, captured events and real definitions for tests.

`override_flags`, `CaptureSink` and `FlagBuilder` need nothing beyond hogkit itself. The
pytest fixtures load through the `pytest11` entry point. `hogkit.testing.strategies`
(Hypothesis strategies) needs `hypothesis` (the `testing` extra) and is not imported here.
"""

from __future__ import annotations

from .builder import FlagBuilder, cohort, cohort_filter, depends_on, document, prop
from .overrides import definitions_for, override_flags
from .sink import CaptureSink

__all__ = [
    "CaptureSink",
    "FlagBuilder",
    "cohort",
    "cohort_filter",
    "definitions_for",
    "depends_on",
    "document",
    "override_flags",
    "prop",
]
