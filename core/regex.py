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

from .regex_program import Program, ProgramTooLarge, compile_program

__all__ = ["MAX_STEPS", "MAX_TEXT", "GatedPattern", "gate_pattern"]

# Longest text matched locally at all.
MAX_TEXT = 65_536
# Worst-case steps of one linear-time search: (characters + 1) * 3 * instructions.
MAX_STEPS = 3_000_000

_HEX = frozenset("0123456789abcdefABCDEF")
_SHORTHANDS = frozenset("dDsSwW")
_PLAIN_ESCAPES = frozenset("dDsSwWbfnrt")
_CLASS_PUNCTUATION = frozenset("\\-[]^.$*+?(){}|")
_COUNTED = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")
_MAX_COUNT = 0xFFFFFFFF
_SEPARATORS = ("\x1c", "\x1d", "\x1e", "\x1f")

# What the previous piece of the pattern was, for the quantifier rules.
_START, _OTHER, _OPEN, _CLOSE, _BAR, _CARET, _DOLLAR, _EMPTY, _QUANT = range(9)
_SPECIAL_PREVIOUS = {"(": _OPEN, ")": _CLOSE, "|": _BAR, "^": _CARET, "$": _DOLLAR}


class _Deferred(Exception):
    """Internal: the pattern leaves the shared subset."""


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
        # The pattern as the reference compiles it, and the one searched: the same
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


def _translate(pattern: str) -> tuple[str, bool, bool, bool]:
    """The Python form of a shared-subset pattern, and whether it uses \\w/\\W, \\s/\\S,
    and an end anchor together with repetition or alternation. Raises _Deferred."""
    out: list[str] = []
    size = len(pattern)
    i = 0
    class_start = -1  # index of the open `[`, or -1 outside a class
    previous = _START
    groups: list[bool] = []  # per open group: does it contain a quantifier?
    last_closed_repeats = False
    word = space = anchor = repeats = False

    while i < size:
        c = pattern[i]
        if "\ud800" <= c <= "\udfff":
            raise _Deferred("surrogate in pattern")
        following = pattern[i + 1 : i + 2]

        if class_start < 0:
            # Group bookkeeping sees only unescaped characters outside classes.
            if c == "$":
                anchor = True
            if c in "*+?{|":
                repeats = True
            if c == "(":
                groups.append(False)
            elif c == ")":
                last_closed_repeats = groups.pop() if groups else False
                if groups and last_closed_repeats:
                    groups[-1] = True
            elif c in "*+?{":
                if previous == _CLOSE and last_closed_repeats:
                    raise _Deferred("repeated group that already repeats")
                if groups:
                    groups[-1] = True

        if c == "\\":
            i += 1
            if i == size:
                out.append("\\")  # dangling: Python rejects it, so the pattern is invalid
                break
            e = pattern[i]
            if e == "x":
                digits = pattern[i + 1 : i + 3]
                if len(digits) != 2 or not _HEX.issuperset(digits):
                    raise _Deferred("\\x needs exactly two hex digits")
                out.append("\\x" + digits)
                i += 3
                previous = _OTHER
                continue
            if class_start < 0 and e in "bB<>":
                raise _Deferred("word boundary")
            if e not in _PLAIN_ESCAPES:
                if not ("\x20" <= e <= "\x7e" and not e.isalnum()):
                    raise _Deferred(f"escape \\{e}")
                if class_start >= 0 and e not in _CLASS_PUNCTUATION:
                    raise _Deferred(f"escape \\{e} in a class")
            if e in "wW":
                word = True
            elif e in "sS":
                space = True
            out.append("\\" + e)
            previous = _OTHER
        elif c == "[":
            if class_start >= 0:
                raise _Deferred("nested class")
            class_start = i
            out.append(c)
        elif c == "]" and class_start >= 0:
            first = class_start + (2 if pattern[class_start + 1 : class_start + 2] == "^" else 1)
            if i == first:
                raise _Deferred("empty class")
            class_start = -1
            previous = _OTHER
            out.append(c)
        elif class_start >= 0:
            if pattern[i : i + 2] in ("&&", "--", "~~"):
                raise _Deferred("class set operation")
            if c == "-" and following not in ("", "]"):
                after = pattern[i + 1 : i + 3]
                if (len(after) == 2 and after[0] == "\\" and after[1] in _SHORTHANDS) or (
                    i >= 2 and pattern[i - 2] == "\\" and pattern[i - 1] in _SHORTHANDS
                ):
                    raise _Deferred("class range with a shorthand endpoint")
            # `||` in a class is a literal bar twice, but Python warns that it may one day
            # mean set union; escaping the bar says the same without the warning.
            out.append("\\|" if c == "|" and following == "|" else c)
        elif c == "(" and following == "?":
            if pattern[i + 2 : i + 3] != ":":
                raise _Deferred("group extension other than (?:")
            out.append("(?:")
            i += 3
            previous = _OPEN
            continue
        elif c == "{":
            counted = _COUNTED.match(pattern, i)
            if counted is None or previous in (
                _START,
                _BAR,
                _OPEN,
                _CARET,
                _DOLLAR,
                _EMPTY,
                _QUANT,
            ):
                raise _Deferred("counted repetition with nothing to repeat")
            if any(len(n) > 10 or int(n) > _MAX_COUNT for n in counted.groups() if n):
                raise _Deferred("counted repetition too large")
            i = counted.end()
            if pattern[i : i + 1] in ("+", "{"):
                raise _Deferred("stacked quantifier")
            out.append(counted.group())
            previous = _QUANT
            continue
        elif c in "*+?":
            if previous in (_CARET, _DOLLAR, _EMPTY) or following in ("+", "{"):
                raise _Deferred("quantifier with nothing to repeat")
            previous = _QUANT
            out.append(c)
        else:
            if c == ")" and previous in (_OPEN, _EMPTY):
                previous = _EMPTY
            else:
                previous = _SPECIAL_PREVIOUS.get(c, _OTHER)
            out.append("\\Z" if c == "$" else c)
        i += 1

    return "".join(out), word, space, anchor and repeats


def _trim(translated: str) -> str:
    """The pattern without a leading and a trailing `.*` (or `.*?`), which cannot change
    whether a search finds a match: wherever `.*X` matches, `X` matches where the dots
    end, and `X.*` matches wherever `X` does. Python's search would otherwise try every
    length of a leading `.*` from every start, a cost growing with the square of the text.
    """
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


def gate_pattern(pattern: str) -> GatedPattern | str | None:
    """A non-empty pattern compiled for matching, a reason it must go to the server, or
    None when Python cannot compile it at all (then it matches nothing, and neither does
    its negation)."""
    try:
        translated, word, space, end_sensitive = _translate(pattern)
    except _Deferred as deferred:
        return f"regex outside the subset shared with the server: {deferred}"
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
        program = compile_program(trimmed)
    except ProgramTooLarge:
        return "regex too large to match locally in bounded time"
    return GatedPattern(compiled, searched, program, word, space, end_sensitive)
