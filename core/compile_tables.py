"""What compiling one set of definitions works out once and shares between its flags.

A `CompileTables` lives for one compile (the `CohortCompiler` holds it), so nothing is
kept from one compile to the next: digest cut-offs by share (a handful of holdout and
variant shares serve hundreds of flags, and each takes a short search to find unless it
is a whole percentage), what conditions alike in position, filter count and rollout
share (their reason tokens, outcomes and cut-off), and the variant outcomes of conditions
with the same variants. The constants behind them (cut-offs of whole percentages, the
tokens of the commonest condition shapes) are made once, at import.
"""

from __future__ import annotations

from typing import Any

from .hashing import above_cut, at_least_cut

__all__ = ["CompileTables"]


class CompileTables:
    """Per-compile memos. `tokens`, `prepared` and `variant_outcomes` are filled by
    `compile`, `classes` by the regular expression matchers."""

    __slots__ = ("_above", "_at_least", "classes", "prepared", "tokens", "variant_outcomes")

    def __init__(self) -> None:
        self._above: dict[float, bytes] = {}
        self._at_least: dict[float, bytes] = {}
        # (condition index, filter count) -> tokens and outcomes (see `compile._tokens`).
        self.tokens: dict[tuple[int, int], tuple[Any, ...]] = {}
        # (condition index, filter count, rollout) -> the tokens and outcomes, then the
        # rollout's cut-off (see `compile._prepared`).
        self.prepared: dict[tuple[int, int, float | None], tuple[Any, ...]] = {}
        # Regular expression class and escape items by their text: patterns often share
        # a class (`[a-z]`) or an escape (`\\.`), and reading a class takes a search (see
        # `regex_tree.read_tree`).
        self.classes: dict[str, Any] = {}
        # (variant table, on-match token) -> each variant's range and outcome.
        self.variant_outcomes: dict[tuple[Any, Any], tuple[Any, ...]] = {}

    def above_cut(self, bound: float) -> bytes:
        """`hashing.above_cut`, once per bound."""
        cut = self._above.get(bound)
        if cut is None:
            cut = self._above[bound] = above_cut(bound)
        return cut

    def at_least_cut(self, bound: float) -> bytes:
        """`hashing.at_least_cut`, once per bound."""
        cut = self._at_least.get(bound)
        if cut is None:
            cut = self._at_least[bound] = at_least_cut(bound)
        return cut
