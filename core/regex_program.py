"""Patterns of the shared regex subset as a program for a linear-time matcher.

`compile_program` reads a pattern that already passed the subset gate and Python's own
compiler (so its syntax is valid and small: literals, escapes, classes, `.`, groups,
alternation, greedy or lazy quantifiers, `^` and `\\Z`) and returns a `Program`: a list of
instructions run as a Thompson NFA simulation. All threads advance together one character
at a time, so a search costs at most (characters + 1) x (instructions) steps whatever the
pattern: nested or ambiguous repetition cannot make it backtrack.

Only whether a match exists is computed, which does not depend on match priority, so greedy
and lazy quantifiers are the same program. What each single-character item matches (`\\w`,
`\\s`, `.`, a class) is decided by Python's `re` on that one character, so character
semantics are Python's exactly.

`Program.python_limit` is the longest text for which Python's own backtracking search is
cheap enough to use instead (-1: none). It is finite only when every repetition repeats a
single-character item: then a backtracking search tries at most (characters + 1) start
positions, times `paths` alternative paths, times (characters + 1) lengths for each of the
`loops` variable-length repetitions, each try walking at most the program once, and the
limit keeps that product within PYTHON_BUDGET. A repeated group (`(a|aa)+`) has no such
bound, so its patterns always run the linear simulation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_INSTRUCTIONS", "PYTHON_BUDGET", "Program", "ProgramTooLarge", "compile_program"]

# Instructions a program may hold (counted repetitions are expanded).
MAX_INSTRUCTIONS = 2_000
# Worst-case steps allowed to Python's backtracking search (steps of its C engine).
PYTHON_BUDGET = 4_000_000
# Longest text ever given to Python's search.
_PYTHON_TEXT = 4_096

# Instruction kinds. An instruction is (kind, argument, second argument).
_CHAR, _SPLIT, _JUMP, _START, _END, _MATCH = range(6)

Instruction = tuple[int, Any, int]


class ProgramTooLarge(Exception):
    """The pattern expands to more than MAX_INSTRUCTIONS instructions."""


# ---------------------------------------------------------------- syntax tree
# A node is one of:
#   ("item", test)               one character, `test(ch)` says whether it matches
#   ("seq", [nodes])             one after another
#   ("alt", [nodes])             any one of them
#   ("repeat", node, low, high)  node low..high times (high None: unbounded)
#   ("start",) / ("end",)        `^` at the beginning, `\Z` at the end of the text
Node = tuple[Any, ...]


def _item_test(source: str) -> Callable[[str], bool]:
    """The test of one character: equality for a literal, else Python's own reading."""
    if len(source) == 1:
        return source.__eq__
    fullmatch = re.compile(source).fullmatch
    return lambda ch: fullmatch(ch) is not None


def _not_newline(ch: str) -> bool:
    return ch != "\n"


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
            return ("item", _item_test(self.class_source()))
        self.at += 1
        if c == "^":
            return ("start",)
        if c == ".":
            return ("item", _not_newline)
        if c == "\\":
            return self.escape()
        return ("item", _item_test(c))

    def escape(self) -> Node:
        e = self.text[self.at]
        self.at += 1
        if e == "Z":
            return ("end",)
        if e == "x":
            self.at += 2
            return ("item", _item_test(chr(int(self.text[self.at - 2 : self.at], 16))))
        if e in "dDsSwW":
            return ("item", _item_test("\\" + e))
        return ("item", _item_test(_SINGLE_ESCAPES.get(e, e)))

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


# ---------------------------------------------------------------- size and safety


def _size(node: Node) -> int:
    kind = node[0]
    if kind == "seq":
        return sum(_size(n) for n in node[1])
    if kind == "alt":
        return sum(_size(n) + 2 for n in node[1])
    if kind == "repeat":
        _, body, low, high = node
        copies = max(low, 1) + (1 if high is None else high - low)
        if copies > MAX_INSTRUCTIONS:
            raise ProgramTooLarge
        total: int = copies * (_size(body) + 2)
        if total > MAX_INSTRUCTIONS:
            raise ProgramTooLarge
        return total
    return 1


def _paths_and_loops(node: Node) -> tuple[int, int] | None:
    """(alternative paths, variable-length repetitions) Python's backtracking explores, or
    None when a repetition's body is more than one character (its cost is unbounded here)."""
    kind = node[0]
    if kind in ("seq", "alt"):
        paths, loops = (1 if kind == "seq" else 0), 0
        for child in node[1]:
            found = _paths_and_loops(child)
            if found is None:
                return None
            paths = paths * found[0] if kind == "seq" else paths + found[0]
            loops += found[1]
        return paths, loops
    if kind == "repeat":
        _, body, low, high = node
        if body[0] != "item":
            return None
        if high == low:
            return 1, 0
        return (2, 0) if high == 1 else (1, 1)
    return 1, 0


# ---------------------------------------------------------------- program


class Program:
    """An immutable instruction list and a linear-time search over it."""

    __slots__ = ("instructions", "loops", "paths", "python_limit")

    def __init__(self, instructions: tuple[Instruction, ...], cost: tuple[int, int] | None) -> None:
        self.instructions = instructions
        self.paths: int
        self.loops: int
        self.paths, self.loops = cost if cost is not None else (0, -1)
        self.python_limit = -1
        if cost is not None:
            # The largest size within budget: a float root, corrected to the exact integer.
            root = (PYTHON_BUDGET / self.python_cost(0)) ** (1 / (self.loops + 1))
            size = min(int(root), _PYTHON_TEXT + 1)
            while size >= 0 and self.python_cost(size) > PYTHON_BUDGET:
                size -= 1
            while size < _PYTHON_TEXT and self.python_cost(size + 1) <= PYTHON_BUDGET:
                size += 1
            self.python_limit = min(size, _PYTHON_TEXT)

    def python_cost(self, size: int) -> int:
        """The bound on Python's backtracking steps for a text of `size` characters."""
        tries: int = (size + 1) ** (self.loops + 1)
        return self.paths * tries * (len(self.instructions) + 1)

    def search(self, text: str) -> tuple[bool, int]:
        """Whether the pattern occurs in `text`, and the steps it took: at most
        (len(text) + 1) * 3 * len(instructions), as each instruction is reached from at
        most two others per position and tested against the character once."""
        program = self.instructions
        marks = [-1] * len(program)
        size = len(text)
        steps = 0
        threads: list[int] = []
        for position in range(size + 1):
            # A new thread starting here (search, not match), after the advanced ones.
            pending = [*threads, 0]
            threads = []
            while pending:
                pc = pending.pop()
                steps += 1
                if marks[pc] == position:
                    continue
                marks[pc] = position
                kind, argument, other = program[pc]
                if kind == _CHAR:
                    threads.append(pc)
                elif kind == _SPLIT:
                    pending.append(other)
                    pending.append(argument)
                elif kind == _JUMP:
                    pending.append(argument)
                elif kind == _START:
                    if position == 0:
                        pending.append(pc + 1)
                elif kind == _END:
                    if position == size:
                        pending.append(pc + 1)
                else:
                    return True, steps
            if position == size:
                break
            ch = text[position]
            advanced = []
            for pc in threads:
                steps += 1
                if program[pc][1](ch):
                    advanced.append(pc + 1)
            threads = advanced
        return False, steps


class _Emitter:
    def __init__(self) -> None:
        self.code: list[list[Any]] = []

    def emit(self, kind: int, argument: object = 0, other: int = 0) -> int:
        self.code.append([kind, argument, other])
        return len(self.code) - 1

    def node(self, node: Node) -> None:
        kind = node[0]
        if kind == "item":
            self.emit(_CHAR, node[1])
        elif kind == "start":
            self.emit(_START)
        elif kind == "end":
            self.emit(_END)
        elif kind == "seq":
            for child in node[1]:
                self.node(child)
        elif kind == "alt":
            self.alternatives(node[1])
        else:
            _, body, low, high = node
            self.repeat(body, low, high)

    def alternatives(self, branches: list[Node]) -> None:
        jumps = []
        for branch in branches[:-1]:
            split = self.emit(_SPLIT)
            self.code[split][1] = split + 1
            self.node(branch)
            jumps.append(self.emit(_JUMP))
            self.code[split][2] = len(self.code)
        self.node(branches[-1])
        for jump in jumps:
            self.code[jump][1] = len(self.code)

    def repeat(self, body: Node, low: int, high: int | None) -> None:
        for _ in range(low):
            self.node(body)
        if high is None:
            loop = self.emit(_SPLIT)
            self.code[loop][1] = loop + 1
            self.node(body)
            self.emit(_JUMP, loop)
            self.code[loop][2] = len(self.code)
            return
        exits = []
        for _ in range(high - low):
            split = self.emit(_SPLIT)
            self.code[split][1] = split + 1
            exits.append(split)
            self.node(body)
        for split in exits:
            self.code[split][2] = len(self.code)


def compile_program(translated: str) -> Program:
    """The program of a gated, Python-valid translated pattern. Raises ProgramTooLarge."""
    tree = _Reader(translated).alternation()
    if _size(tree) > MAX_INSTRUCTIONS:
        raise ProgramTooLarge
    emitter = _Emitter()
    emitter.node(tree)
    emitter.emit(_MATCH)
    instructions = tuple((k, a, o) for k, a, o in emitter.code)
    return Program(instructions, _paths_and_loops(tree))
