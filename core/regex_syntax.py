"""Which regex constructs Python's `re` and the server's Rust engine read alike, as tables.

A pattern is cut into pieces by one alternation of named constructs (`_OUTSIDE`, and
`_INSIDE` for the body of a character class), each piece carrying its Python spelling.
What is allowed is then a matter of looking pieces up:

- `_REFUSED` / `_CLASS_REFUSED`: constructs that never pass (lookarounds, named groups
  and inline flags, nested classes, class set operations, malformed `\\x` or counts);
- `_ESCAPES`: which escaped characters may appear outside and inside a class;
- `_NOTHING_TO_REPEAT`: after which pieces each kind of repetition is refused (the server
  accepts some of these where Python does not, or the reverse; what both reject is left to
  Python's own compiler, which then calls the pattern invalid);
- `_STACKED`: what may not directly follow a repetition (possessive and stacked forms);
- a repetition directly after a group that repeats inside is refused: the two engines
  backtrack through those differently, and they are where blow-ups live.

A refused pattern is not an error in the pattern: it means the server has to evaluate it,
and `OutsideSubset` carries why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["MAX_COUNT", "OutsideSubset", "Translation", "translate"]

# Largest bound a counted repetition may name, and the most digits it may spell it with.
MAX_COUNT = 0xFFFF_FFFF
_MAX_COUNT_DIGITS = 10


class OutsideSubset(Exception):
    """The pattern uses a construct the two engines do not read alike."""


class Translation(NamedTuple):
    """A pattern in Python's syntax, and what its matches depend on beyond the syntax."""

    python: str
    word: bool  # uses \w or \W, whose non-ASCII reach differs between the engines
    space: bool  # uses \s or \S, which in Python also covers U+001C..U+001F
    end_sensitive: bool  # `$` together with repetition or alternation


class _Piece(NamedTuple):
    kind: str
    source: str
    python: str
    escapes: str = ""  # the escaped letters it holds, for `Translation.word` / `.space`


def _alternation(table: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<{kind}>{syntax})" for kind, syntax in table), re.DOTALL)


# Constructs outside a class, tried in this order at each position.
_OUTSIDE = _alternation(
    (
        ("hex", r"\\x[0-9A-Fa-f]{2}"),
        ("bad_hex", r"\\x"),
        ("escape", r"\\."),
        ("dangling", r"\\\Z"),
        ("class", r"\["),
        ("noncapturing", r"\(\?:"),
        ("extension", r"\(\?"),
        ("open", r"\("),
        ("close", r"\)"),
        ("bar", r"\|"),
        ("caret", r"\^"),
        ("dollar", r"\$"),
        ("counted", r"\{[0-9]+(?:,[0-9]*)?\}"),
        ("brace", r"\{"),
        ("quantifier", r"[*+?]"),
        # A run of characters none of the above may start, read at once: the rules below
        # treat a run of plain characters as they treat each of them.
        ("literal", r"[^\\\[()|^${*+?]+"),
    )
)

# Constructs inside a class body (after `[` and an optional `^`).
_INSIDE = _alternation(
    (
        ("hex", r"\\x[0-9A-Fa-f]{2}"),
        ("bad_hex", r"\\x"),
        ("escape", r"\\."),
        ("dangling", r"\\\Z"),
        ("end", r"\]"),
        ("nested", r"\["),
        ("set_operation", r"&&|--|~~"),
        ("doubled_bar", r"\|(?=\|)"),
        ("range_dash", r"-(?=[^\]])"),
        ("literal", r"[^\\\]\[&~|-]+|."),
    )
)

_REFUSED = MappingProxyType(
    {
        "bad_hex": "\\x needs exactly two hex digits",
        "extension": "group extension other than (?:",
        "brace": "malformed counted repetition",
    }
)
_CLASS_REFUSED = MappingProxyType(
    {
        "bad_hex": "\\x needs exactly two hex digits",
        "nested": "nested class",
        "set_operation": "class set operation",
    }
)

# Spellings that differ: Python's `$` also matches before a final newline, `\Z` does not;
# Python warns that `||` in a class may one day mean union, an escaped bar says the same.
_PYTHON_SPELLING = MappingProxyType({"dollar": "\\Z", "doubled_bar": "\\|"})

_PUNCTUATION = frozenset(chr(code) for code in range(0x20, 0x7F) if not chr(code).isalnum())
_SHORTHANDS = "dDsSwW"
_ANYWHERE = frozenset(_SHORTHANDS + "fnrt")
# Escaped characters allowed outside and inside a class. Outside, `\b` `\B` `\<` `\>` are
# word boundaries (refused); inside, `\b` is a backspace and only regex punctuation may be
# escaped.
_ESCAPES = MappingProxyType(
    {
        False: _ANYWHERE | (_PUNCTUATION - frozenset("<>")),
        True: _ANYWHERE | frozenset("b\\-[]^.$*+?(){}|"),
    }
)
_BOUNDARIES = frozenset("bB<>")
# A range whose endpoint is a shorthand class (`[\d-z]`), judged on the raw text around
# the dash: an escaped backslash before a shorthand letter (`[\\d-z]`) counts as well.
_SHORTHAND_TEXT = re.compile(r"\\[dDsSwW]")
# A class body whose every character reads as itself: no escape, nested class, set
# operation or doubled bar.
_PLAIN_CLASS = re.compile(r"(?:[^\\\[&~|-]|&(?!&)|~(?!~)|\|(?!\|)|-(?!-))+")

# What each kind of piece is, for the repetition rules.
_ROLES = MappingProxyType(
    {
        "open": "open",
        "noncapturing": "open",
        "close": "close",
        "bar": "bar",
        "caret": "caret",
        "dollar": "dollar",
        "quantifier": "repeat",
        "counted": "repeat",
    }
)
_NOTHING_TO_REPEAT = MappingProxyType(
    {
        "quantifier": frozenset({"caret", "dollar", "empty group"}),
        "counted": frozenset({"start", "bar", "open", "caret", "dollar", "empty group", "repeat"}),
    }
)
# First characters of a piece that may not directly follow a repetition.
_STACKED = frozenset("+{")

_SURROGATE = re.compile("[\ud800-\udfff]")
# The commonest shape of pattern, which no rule above can refuse and whose Python spelling
# is itself but for a final `$`: an optional `^`, then items (a character with no syntax of
# its own, an escape allowed outside a class, a class whose body is plain as in
# `_PLAIN_CLASS`), each repeated at most once by `*`, `+` or `?` (lazy or not), then an
# optional `$`. It is read in one step; `_UNREPEATED` tells whether any item repeats.
_SIMPLE_ITEM = (
    r"(?:[^\\\[\](){}|^$*+?]|\\["
    + re.escape("".join(sorted(_ESCAPES[False])))
    + r"]|\[(?:\^|(?!\^))(?:[^\\\[\]&~|-]|&(?!&)|~(?!~)|\|(?!\|)|-(?!-))+\])"
)
_SIMPLE = re.compile(rf"\^?(?:{_SIMPLE_ITEM}(?:[*+?]\??)?)+(?P<dollar>\$)?")
_UNREPEATED = re.compile(rf"\^?{_SIMPLE_ITEM}+\$")
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


def translate(pattern: str) -> Translation:
    """`pattern` in Python's syntax, or OutsideSubset when the server must evaluate it.

    A pattern Python cannot compile may still translate (a dangling backslash, an
    unterminated class): compiling it is the caller's next step."""
    if not pattern.isascii() and _SURROGATE.search(pattern):
        raise OutsideSubset("surrogate in pattern")
    simple = _SIMPLE.fullmatch(pattern)
    if simple:
        letters = "".join(_ESCAPED.findall(pattern))
        word = "w" in letters or "W" in letters
        space = "s" in letters or "S" in letters
        if simple["dollar"] is None:
            return Translation(pattern, word, space, False)
        repeats = _UNREPEATED.fullmatch(pattern) is None
        return Translation(pattern[:-1] + _PYTHON_SPELLING["dollar"], word, space, repeats)
    pieces = list(_pieces(pattern))
    _check_repetitions(pieces)
    _check_repeated_groups(pieces)
    letters = "".join(piece.escapes for piece in pieces)
    kinds = {piece.kind for piece in pieces}
    return Translation(
        python="".join(piece.python for piece in pieces),
        word="w" in letters or "W" in letters,
        space="s" in letters or "S" in letters,
        end_sensitive="dollar" in kinds and bool(kinds & {"quantifier", "counted", "bar"}),
    )


def _pieces(pattern: str) -> Iterator[_Piece]:
    at = 0
    while at < len(pattern):
        found = _OUTSIDE.match(pattern, at)
        assert found is not None and found.lastgroup is not None  # every character starts one
        kind, source = found.lastgroup, found.group()
        if kind in _REFUSED:
            raise OutsideSubset(_REFUSED[kind])
        if kind == "class":
            piece = _class(pattern, at)
        elif kind == "escape":
            piece = _escape(source, in_class=False)
        elif kind == "counted":
            piece = _counted(source)
        else:
            piece = _Piece(kind, source, _PYTHON_SPELLING.get(kind, source))
        at += len(piece.source)
        yield piece


def _escape(source: str, in_class: bool) -> _Piece:
    letter = source[1]
    if letter not in _ESCAPES[in_class]:
        if not in_class and letter in _BOUNDARIES:
            raise OutsideSubset("word boundary")
        raise OutsideSubset(f"escape {source}" + (" in a class" if in_class else ""))
    return _Piece("escape", source, source, letter)


def _counted(source: str) -> _Piece:
    for number in source[1:-1].split(","):
        if number and (len(number) > _MAX_COUNT_DIGITS or int(number) > MAX_COUNT):
            raise OutsideSubset("counted repetition too large")
    return _Piece("counted", source, source)


def _class(pattern: str, start: int) -> _Piece:
    """The class opening at `start`, up to its `]` (or the pattern's end: Python then
    rejects it)."""
    at = start + (2 if pattern.startswith("[^", start) else 1)
    body = at
    end = pattern.find("]", body)
    if end > body and _PLAIN_CLASS.fullmatch(pattern, body, end):
        # Nothing escaped, nested or doubled (the common class): read as it is written.
        return _Piece("class", pattern[start : end + 1], pattern[start : end + 1])
    python = [pattern[start:at]]
    escapes: list[str] = []
    while at < len(pattern):
        found = _INSIDE.match(pattern, at)
        assert found is not None and found.lastgroup is not None
        kind, source = found.lastgroup, found.group()
        if kind in _CLASS_REFUSED:
            raise OutsideSubset(_CLASS_REFUSED[kind])
        if kind == "end" and at == body:
            raise OutsideSubset("empty class")
        if kind == "range_dash" and _shorthand_endpoint(pattern, at):
            raise OutsideSubset("class range with a shorthand endpoint")
        if kind == "escape":
            escapes.append(_escape(source, in_class=True).escapes)
        python.append(_PYTHON_SPELLING.get(kind, source))
        at += len(source)
        if kind == "end":
            break
    return _Piece("class", pattern[start:at], "".join(python), "".join(escapes))


def _shorthand_endpoint(pattern: str, dash: int) -> bool:
    before = dash >= 2 and _SHORTHAND_TEXT.fullmatch(pattern, dash - 2, dash) is not None
    return before or _SHORTHAND_TEXT.match(pattern, dash + 1) is not None


def _check_repetitions(pieces: list[_Piece]) -> None:
    """Each repetition against the piece before it and the piece after it."""
    previous = "start"
    for index, piece in enumerate(pieces):
        if piece.kind in _NOTHING_TO_REPEAT:
            if previous in _NOTHING_TO_REPEAT[piece.kind]:
                raise OutsideSubset("repetition with nothing to repeat")
            following = pieces[index + 1].source[:1] if index + 1 < len(pieces) else ""
            if following in _STACKED:
                raise OutsideSubset("possessive or stacked repetition")
        previous = _role(piece, previous)


def _role(piece: _Piece, previous: str) -> str:
    if piece.kind == "close" and previous in ("open", "empty group"):
        return "empty group"
    return _ROLES.get(piece.kind, "item")


def _check_repeated_groups(pieces: list[_Piece]) -> None:
    """Refuse repeating a group that already holds a repetition (`(a+)+`, `(a*)?`)."""
    holds_repetition: list[bool] = []  # per open group
    closed_holds = False  # of the group closed by the previous piece
    previous = ""
    for piece in pieces:
        if piece.kind in _NOTHING_TO_REPEAT:
            if previous == "close" and closed_holds:
                raise OutsideSubset("repeated group that already repeats")
            if holds_repetition:
                holds_repetition[-1] = True
        elif piece.kind in ("open", "noncapturing"):
            holds_repetition.append(False)
        elif piece.kind == "close":
            closed_holds = holds_repetition.pop() if holds_repetition else False
            if holds_repetition:
                holds_repetition[-1] |= closed_holds
        previous = piece.kind
