"""The syntax tree of a pattern of the shared regex subset, read for `regex_program`.

The pattern has already passed the subset gate and Python's own compiler, so this reader
can trust its syntax. Each single-character item keeps a test, the characters it matches
when they are few and known, and its compiled form: `regex_program` sizes, costs and
runs the tree.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["Node", "read_tree"]

# A node is one of:
#   ("item", test, members, pattern)
#                                one character, `test(ch)` says whether it matches;
#                                `members` is the text of every character it matches when
#                                that set is small and known (a literal, a plain class),
#                                else None; `pattern` its compiled form (None: a literal)
#   ("seq", [nodes])             one after another
#   ("alt", [nodes])             any one of them
#   ("repeat", node, low, high)  node low..high times (high None: unbounded)
#   ("start",) / ("end",)        `^` at the beginning, `\Z` at the end of the text
Node = tuple[Any, ...]


def _item(source: str) -> Node:
    """An item node: equality for a literal, else Python's own reading of the one-character
    pattern. A literal's members are itself; a class without negation or shorthands written
    in ASCII can only hold characters up to U+00FF (`\\xHH` is the only escape that reaches
    beyond ASCII), so its members are found among those."""
    if len(source) == 1:
        return ("item", source.__eq__, source, None)
    pattern = re.compile(source)
    fullmatch = pattern.fullmatch
    members: str | None = None
    if (
        source.startswith("[")
        and not source.startswith("[^")
        and source.isascii()
        and not any(f"\\{e}" in source for e in "dDsSwW")
    ):
        members = "".join(pattern.findall(_LATIN1))
    return ("item", lambda ch: fullmatch(ch) is not None, members, pattern)


_LATIN1 = "".join(map(chr, range(256)))


def _not_newline(ch: str) -> bool:
    return ch != "\n"


# `.` as a node: any character but a newline (as Python reads `.` without flags).
_DOT: Node = ("item", _not_newline, None, re.compile("."))

_SINGLE_ESCAPES = {"f": "\f", "n": "\n", "r": "\r", "t": "\t"}


class _Reader:
    """A recursive-descent reader of the (valid, gated) translated pattern."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0

    def peek(self) -> str:
        return self.text[self.at : self.at + 1]

    def alternation(self) -> Node:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.at += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def sequence(self) -> Node:
        nodes: list[Node] = []
        while self.peek() not in ("", "|", ")"):
            nodes.append(self.quantified(self.piece()))
        return nodes[0] if len(nodes) == 1 else ("seq", nodes)

    def piece(self) -> Node:
        c = self.peek()
        if c == "(":
            self.at += 3 if self.text.startswith("(?:", self.at) else 1
            inner = self.alternation()
            self.at += 1  # the closing parenthesis
            return inner
        if c == "[":
            return _item(self.class_source())
        self.at += 1
        if c == "^":
            return ("start",)
        if c == ".":
            return _DOT
        if c == "\\":
            return self.escape()
        return _item(c)

    def escape(self) -> Node:
        e = self.text[self.at]
        self.at += 1
        if e == "Z":
            return ("end",)
        if e == "x":
            self.at += 2
            return _item(chr(int(self.text[self.at - 2 : self.at], 16)))
        if e in "dDsSwW":
            return _item("\\" + e)
        return _item(_SINGLE_ESCAPES.get(e, e))

    def class_source(self) -> str:
        begin = self.at
        self.at += 1
        if self.peek() == "^":
            self.at += 1
        while self.peek() != "]":
            self.at += 2 if self.peek() == "\\" else 1
        self.at += 1
        return self.text[begin : self.at]

    def quantified(self, node: Node) -> Node:
        c = self.peek()
        if c in ("*", "+", "?"):
            self.at += 1
            low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        elif c == "{":
            close = self.text.index("}", self.at)
            numbers = self.text[self.at + 1 : close].split(",")
            self.at = close + 1
            low = int(numbers[0])
            high = low if len(numbers) == 1 else (int(numbers[1]) if numbers[1] else None)
        else:
            return node
        if self.peek() == "?":
            self.at += 1  # lazy: the same set of matches
        return ("repeat", node, low, high)


def read_tree(pattern: str) -> Node:
    """The syntax tree of a gated, Python-valid translated pattern."""
    return _Reader(pattern).alternation()
