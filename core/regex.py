"""Regular expressions limited to the subset Python's `re` and the server's Rust engine
(fancy-regex) read the same way.

A pattern outside that subset is not guessed at: `gate_pattern` names why, and the filter
goes to the server. Outside it fall lookarounds, named groups and inline flags (any `(?`
other than `(?:`), word boundaries, escapes other than the common shorthands and escaped
punctuation, nested or set-operation classes, empty classes, shorthand range endpoints,
possessive or stacked quantifiers, quantifiers with nothing to repeat, repeated groups that
already repeat inside (backtracking blow-ups), huge counted repetitions and surrogates.

Inside the subset the one syntactic difference is `$`, which in Python also matches before
a final newline; it becomes `\\Z`. Some values still separate the engines (a final newline
against an end anchor with repetition, non-ASCII non-alphanumerics against `\\w`, the
information separators U+001C..U+001F against `\\s`), so `GatedPattern.search` declines
those rather than answer differently from the server.

Matching is bounded by the text's length whatever the pattern. Python's backtracking
search is used only where its cost is provably small: a pattern whose repetitions each
repeat one character, against a text short enough that the bound on its backtracking
(`Program.python_limit`, from alternative paths and the repetitions whose lengths may all
lead somewhere) stays within `regex_program.PYTHON_BUDGET`. Every other search runs
`regex_program`'s linear-time NFA simulation, which visits each instruction at most a few
times per character, so catastrophic patterns (`(a|aa)+$`, `.*.*.*=`) cost the same as
harmless ones. Rejecting ambiguous patterns to the server instead would send realistic
ones there too (`.*@[a-z]+.*\\.com`, `\\w+\\w+`), each costing a
request per evaluation, while the simulation answers them locally in microseconds for
typical property values. What stays unsupported: patterns that expand beyond
`regex_program.MAX_INSTRUCTIONS` (huge counted repetitions), texts over `MAX_TEXT`
characters, and searches whose worst case would exceed `MAX_STEPS` steps.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .regex_program import Program, ProgramTooLarge, compile_program
from .regex_syntax import OutsideSubset, translate

__all__ = ["MAX_STEPS", "MAX_TEXT", "GatedPattern", "gate_pattern"]

# Longest text matched locally at all.
MAX_TEXT = 65_536
# Worst-case steps of one linear-time search: (characters + 1) * 3 * instructions.
MAX_STEPS = 3_000_000

_SEPARATORS = ("\x1c", "\x1d", "\x1e", "\x1f")


class GatedPattern:
    """A compiled pattern inside the shared subset, with what its values must avoid."""

    __slots__ = (
        "_end_sensitive",
        "_program",
        "_regex",
        "_search",
        "_space",
        "_word",
        "ascii_plan",
    )

    def __init__(
        self,
        regex: re.Pattern[str],
        trimmed: re.Pattern[str],
        program: Program,
        word: bool,
        space: bool,
        end: bool,
    ) -> None:
        # The pattern as posthog-python compiles it, and the one searched: the same
        # without a leading or trailing `.*` (see `_trim`), which the program runs too.
        self._regex = regex
        self._search = trimmed.search
        self._program = program
        self._word = word
        self._space = space
        self._end_sensitive = end
        # For callers searching short ASCII text themselves (the hot path): Python's search
        # and the longest text it may be given (-1: none), whether a final newline must be
        # declined, and whether that is all there is to check (for ASCII text, `search`
        # only adds the separators check of `\\s`).
        self.ascii_plan: tuple[Callable[[str], re.Match[str] | None], int, bool, bool] = (
            trimmed.search,
            program.python_limit,
            end,
            not space,
        )

    def search(self, text: str) -> bool | None:
        """Whether the pattern occurs in `text`; None when the server must decide."""
        if len(text) > MAX_TEXT:
            return None
        if self._end_sensitive and text.endswith("\n"):
            return None
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return None  # lone surrogates
            if self._word and any(not (c.isascii() or c.isalpha() or c.isdecimal()) for c in text):
                return None
        if self._space and any(c in text for c in _SEPARATORS):
            return None
        return self.occurs(text)

    def occurs(self, text: str) -> bool | None:
        """The search itself, bounded: None when even the linear search would be too long."""
        program = self._program
        if len(text) <= program.python_limit:
            return self._search(text) is not None
        if (len(text) + 1) * 3 * program.size > MAX_STEPS:
            return None
        return program.search(text)[0]


def _trim(translated: str) -> str:
    """The pattern without a leading and a trailing `.*` (or `.*?`), which cannot change
    whether a search finds a match: wherever `.*X` matches, `X` matches where the dots
    end, and `X.*` matches wherever `X` does. Python's search would otherwise try every
    length of a leading `.*` from every start, a cost growing with the square of the text.
    """
    if ".*" not in translated:
        return translated
    for wrapper in (".*?", ".*"):
        rest = translated[len(wrapper) :]
        if translated.startswith(wrapper) and rest[:1] not in ("*", "+", "?", "{"):
            translated = rest
            break
    for wrapper in (".*?", ".*"):
        rest = translated[: -len(wrapper)]
        if translated.endswith(wrapper) and _unescaped(rest):
            return rest
    return translated


def _unescaped(head: str) -> bool:
    """Whether the character after `head` is not escaped (an even run of backslashes)."""
    return (len(head) - len(head.rstrip("\\"))) % 2 == 0


def gate_pattern(pattern: str, classes: dict[str, Any] | None = None) -> GatedPattern | str | None:
    """A non-empty pattern compiled for matching, a reason it must go to the server, or
    None when Python cannot compile it at all (then it matches nothing, and neither does
    its negation). `classes`: a compile's class items, shared between its patterns (see
    `regex_tree.read_tree`)."""
    try:
        translated, word, space, end_sensitive = translate(pattern)
    except OutsideSubset as outside:
        return f"regex outside the subset shared with the server: {outside}"
    try:
        compiled = re.compile(translated)
    except re.error:
        return None
    except Exception as error:
        return f"regex the server must compile: {error}"
    try:
        trimmed = _trim(translated)
        searched = compiled if trimmed == translated else re.compile(trimmed)
    except re.error:  # not expected: trimming keeps a valid pattern valid
        trimmed, searched = translated, compiled
    try:
        program = compile_program(trimmed, classes)
    except ProgramTooLarge:
        return "regex too large to match locally in bounded time"
    return GatedPattern(compiled, searched, program, word, space, end_sensitive)
