"""The syntax tree of a pattern of the shared regex subset, read for `regex_program`.

The pattern has already passed the subset gate and Python's own compiler, so this reader
can trust its syntax. Each single-character item keeps a test, the characters it matches
when they are few and known (from its text for a literal or a class without escapes),
and otherwise its compiled form: `regex_program` sizes, costs and runs the tree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["Node", "read_tree"]

# A node is one of:
#   ("item", test, members, pattern, ascii)
#                                one character, `test(ch)` is truthy when it matches;
#                                `members` is a text holding every character it matches
#                                when that set is small and known (a literal, a plain class),
#                                else None; `pattern` its compiled form (None when
#                                `members` is known from the text alone); `ascii` the
#                                ASCII characters it matches, a frozenset, for the items
#                                whose `members` are not known but common (shorthands,
#                                `.`), else None
#   ("seq", [nodes])             one after another
#   ("alt", [nodes])             any one of them
#   ("repeat", node, low, high)  node low..high times (high None: unbounded)
#   ("start",) / ("end",)        `^` at the beginning, `\Z` at the end of the text
Node = tuple[Any, ...]


def _item(source: str) -> Node:
    """An item node: equality for a literal, membership for a class whose members its
    text spells out (see `_spelled_members`), else Python's own reading of the
    one-character pattern. A class without negation or shorthands written in ASCII can
    only hold characters up to U+00FF (`\\xHH` is the only escape that reaches beyond
    ASCII), so its members are found among those (among ASCII without `\\x`)."""
    if len(source) == 1:
        return ("item", source.__eq__, source, None, None)
    if source.isascii() and not source.startswith("[^") and "\\" not in source:
        members = _spelled_members(source[1:-1])
        return ("item", members.__contains__, members, None, None)
    pattern = re.compile(source)
    known: str | None = None
    if (
        source.startswith("[")
        and not source.startswith("[^")
        and source.isascii()
        and _SHORTHAND.search(source) is None
    ):
        # Runs of members rather than one match per member: fewer matches to build.
        known = "".join(re.findall(source + "+", _LATIN1 if "\\x" in source else _ASCII))
    # The bound `fullmatch` itself is the test (a match or None): no wrapper to call.
    return ("item", pattern.fullmatch, known, pattern, None)


def _spelled_members(body: str) -> str:
    """The members of a class body without escapes, each at least once, read as Python
    reads it: a character, a dash and a character make a range; a dash that starts or
    ends the body, or follows a range, stands for itself. The body is ASCII, so a range
    is a slice of `_ASCII`. This needs no search, and a compile's classes are mostly such
    bodies (`a-z`, `0-9`); what reads `members` treats it as a set."""
    pieces = []
    at = 0
    end = len(body)
    while at < end:
        if at + 2 < end and body[at + 1] == "-":
            pieces.append(_ASCII[ord(body[at]) : ord(body[at + 2]) + 1])
            at += 3
        else:
            pieces.append(body[at])
            at += 1
    return "".join(pieces)


_ASCII = "".join(map(chr, range(128)))
_LATIN1 = "".join(map(chr, range(256)))
_SHORTHAND = re.compile(r"\\[dDsSwW]")


def _not_newline(ch: str) -> bool:
    return ch != "\n"


def _common(test: Any, pattern: re.Pattern[str]) -> Node:
    """An item read once at import, with the ASCII characters it matches: telling
    whether it may take a character of a small known set (the usual question of
    `regex_program`) is then a set lookup rather than a search."""
    return ("item", test, None, pattern, frozenset(filter(pattern.fullmatch, _ASCII)))


# The shorthand classes as nodes, read once: they are the commonest non-literal items.
_SHORTHANDS = MappingProxyType(
    {
        f"\\{letter}": _common(shorthand.fullmatch, shorthand)
        for letter in "dDsSwW"
        for shorthand in [re.compile(f"\\{letter}")]
    }
)

# `.` as a node: any character but a newline (as Python reads `.` without flags).
_DOT: Node = _common(_not_newline, re.compile("."))

_SINGLE_ESCAPES = MappingProxyType({"f": "\f", "n": "\n", "r": "\r", "t": "\t"})


# One token of a translated pattern: a group opening, an escape, a whole class, a
# quantifier with its lazy `?`, a run of characters that stand for themselves, or any
# other single character. The pattern is valid and gated, so every `{` outside a class
# opens a counted repetition and no class is empty. A quantifier after a run repeats its
# last character, which is the last node the run leaves.
_TOKEN = re.compile(
    r"\(\?:|\\x[0-9A-Fa-f]{2}|\\.|\[\^?(?:\\.|[^\]\\])*\]|\{[0-9,]*\}\??|[*+?]\??"
    r"|[^\\()|*+?{\[^.]+|.",
    re.DOTALL,
)
# The characters a token with syntax of its own starts with.
_SYNTAX = "()|*+?{[\\^."
# (low, high) of `*`, `+` and `?`, greedy or lazy (a lazy one repeats the same set of
# matches); a counted repetition is read by `_counted`.
_BOUNDS: Mapping[str, tuple[int, int | None]] = MappingProxyType(
    {
        symbol + lazy: bounds
        for symbol, bounds in (("*", (0, None)), ("+", (1, None)), ("?", (0, 1)))
        for lazy in ("", "?")
    }
)


def read_tree(pattern: str, classes: dict[str, Node] | None = None) -> Node:
    """The syntax tree of a gated, Python-valid translated pattern, read token by token
    with the enclosing groups' (branches, nodes) kept on a stack. Class and escape items
    are looked up in and added to `classes` (by their text) when given: a compile's
    patterns share them (nodes are never changed), and reading a class takes a search
    for its members."""
    if classes is None:
        classes = {}
    stack: list[tuple[list[Node], list[Node]]] = []
    branches: list[Node] = []
    nodes: list[Node] = []
    for token in _TOKEN.findall(pattern):
        first = token[0]
        if first not in _SYNTAX:
            # A run of characters that stand for themselves (the commonest token).
            nodes.extend([("item", ch.__eq__, ch, None, None) for ch in token])
        elif first == "(":
            stack.append((branches, nodes))
            branches, nodes = [], []
        elif first == ")":
            inner = _alternation(branches, nodes)
            branches, nodes = stack.pop()
            nodes.append(inner)
        elif first == "|":
            branches.append(_sequence(nodes))
            nodes = []
        elif first in "*+?{":
            low, high = _BOUNDS.get(token) or _counted(token)
            nodes[-1] = ("repeat", nodes[-1], low, high)
        elif first == "[":
            node = classes.get(token)
            if node is None:
                node = classes[token] = _item(token)
            nodes.append(node)
        elif first == "\\":
            node = _SHORTHANDS.get(token) or classes.get(token)
            if node is None:
                node = classes[token] = _escape(token)
            nodes.append(node)
        elif first == "^":
            nodes.append(("start",))
        else:  # `.`, the last of `_SYNTAX`
            nodes.append(_DOT)
    return _alternation(branches, nodes)


def _sequence(nodes: list[Node]) -> Node:
    return nodes[0] if len(nodes) == 1 else ("seq", nodes)


def _alternation(branches: list[Node], nodes: list[Node]) -> Node:
    if not branches:
        return _sequence(nodes)
    return ("alt", [*branches, _sequence(nodes)])


def _escape(token: str) -> Node:
    e = token[1]
    if e == "Z":
        return ("end",)
    if e == "x":
        return _item(chr(int(token[2:], 16)))
    if e in "dDsSwW":
        return _SHORTHANDS[token]
    return _item(_SINGLE_ESCAPES.get(e, e))


def _counted(token: str) -> tuple[int, int | None]:
    """(low, high) of a counted repetition token (high None: unbounded); a lazy one
    repeats the same set of matches."""
    numbers = token[1 : token.index("}")].split(",")
    low = int(numbers[0])
    return low, low if len(numbers) == 1 else (int(numbers[1]) if numbers[1] else None)
