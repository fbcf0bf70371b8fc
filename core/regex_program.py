"""Patterns of the shared regex subset as a program for a linear-time matcher.

`compile_program` reads a pattern that already passed the subset gate and Python's own
compiler (so its syntax is valid and small: literals, escapes, classes, `.`, groups,
alternation, greedy or lazy quantifiers, `^` and `\\Z`) and returns a `Program`: a list of
instructions run as a Thompson NFA simulation. All threads advance together one character
at a time, so a search costs at most (characters + 1) x (instructions) steps whatever the
pattern: nested or ambiguous repetition cannot make it backtrack.

Only whether a match exists is computed, which does not depend on match priority, so greedy
and lazy quantifiers are the same program. What each single-character item matches (`\\w`,
`\\s`, `.`, a class) is decided by Python's `re` on that one character, or for a class
without escapes read from its text as `re` reads it, so character semantics are
Python's exactly.

`Program.python_limit` is the longest text for which Python's own backtracking search is
cheap enough to use instead (-1: none). It is finite only when every repetition repeats a
single-character item (or is a group repeated a few times at most): then a backtracking
search tries at most (characters + 1) start positions (one, past its first step, for a
pattern anchored with `^`), times `paths` alternative paths, times (characters + 1)
lengths for each of the `loops` ambiguous repetitions (see `_plan`: a repetition whose
characters cannot begin what follows only scans, adding its lengths once per try instead
of multiplying them), and the limit keeps that product within PYTHON_BUDGET. A repeated
group (`(a|aa)+`) has no such bound, so its patterns always run the linear simulation.
"""

from __future__ import annotations

from typing import Any

from .regex_tree import Node, read_tree

__all__ = ["MAX_INSTRUCTIONS", "PYTHON_BUDGET", "Program", "ProgramTooLarge", "compile_program"]

# Instructions a program may hold (counted repetitions are expanded).
MAX_INSTRUCTIONS = 2_000
# Worst-case steps allowed to Python's backtracking search (steps of its C engine).
PYTHON_BUDGET = 4_000_000
# Longest text ever given to Python's search (the longest matched locally at all).
_PYTHON_TEXT = 65_536

# Instruction kinds. An instruction is (kind, argument, second argument).
_CHAR, _SPLIT, _JUMP, _START, _END, _MATCH = range(6)

Instruction = tuple[int, Any, int]


class ProgramTooLarge(Exception):
    """The pattern expands to more than MAX_INSTRUCTIONS instructions."""


# ---------------------------------------------------------------- size and safety


# What may come right after a node, for telling whether a repetition's backtracking
# can go anywhere: (item nodes that may read the next character, whether anything at
# all may (a `^` met again), whether the rest of the pattern may match nothing, which
# ends the search with a match).
Follow = tuple[tuple[Node, ...], bool, bool]
_AT_END: Follow = ((), False, True)
# Most copies of a repeated group whose backtracking is worked out.
_MAX_COPIES = 16


def _first(node: Node) -> tuple[tuple[Node, ...], bool, bool]:
    """(items that may read the first character, whether anything may, whether the node
    may match nothing wherever it is). `^` and `\\Z` match nothing only in one place."""
    kind = node[0]
    if kind == "item":
        return (node,), False, False
    if kind == "start":
        return (), True, False
    if kind == "end":
        return (), False, False
    if kind == "repeat":
        items, anything, empty = _first(node[1])
        return items, anything, empty or node[2] == 0
    if kind == "alt":
        found = [_first(child) for child in node[1]]
        return (
            tuple(item for items, _, _ in found for item in items),
            any(anything for _, anything, _ in found),
            any(empty for _, _, empty in found),
        )
    return _followed(node[1], _AT_END, 0)


def _followed(nodes: list[Node], after: Follow, start: int) -> Follow:
    """What may come first from `nodes[start:]` followed by `after`."""
    items: tuple[Node, ...] = ()
    anything = False
    for at in range(start, len(nodes)):
        node = nodes[at]
        kind = node[0]
        if kind == "item":  # the commonest: it reads the next character, and only it
            return (*items, node), anything, False
        if kind == "repeat" and node[1][0] == "item":
            # The next commonest, as `_first` reads it: its item may read the next
            # character, and what follows may too unless the item must occur.
            items += (node[1],)
            if node[2]:
                return items, anything, False
            continue
        found, any_found, empty = _first(node)
        items += found
        anything = anything or any_found
        if not empty:
            return items, anything, False
    return items + after[0], anything or after[1], after[2]


def _disjoint(item: Node, follow: Follow) -> bool:
    """Whether no character the item matches may begin what follows."""
    if follow[1]:
        return False
    mine = item[2]
    for other in follow[0]:
        theirs = other[2]
        if theirs is not None and item[4] is not None and theirs.isascii():
            # A shorthand or `.` against a known ASCII set: the sets meet or not.
            overlap = not item[4].isdisjoint(theirs)
        elif mine is not None and other[4] is not None and mine.isascii():
            overlap = not other[4].isdisjoint(mine)
        elif mine is not None and theirs is not None:
            # Both sets are known: a literal is looked up, two classes compared.
            if len(theirs) == 1:
                overlap = theirs in mine
            elif len(mine) == 1:
                overlap = mine in theirs
            else:
                overlap = not set(theirs).isdisjoint(mine)
        elif theirs is not None:
            overlap = item[3].search(theirs) is not None
        elif mine is not None:
            overlap = other[3].search(mine) is not None
        else:
            return False
        if overlap:
            return False
    return True


# Nodes that read one character or none, without any choice.
_PLAIN = ("item", "start", "end")


# (alternative paths, ambiguous repetitions, scanning repetitions): see `_plan`.
Cost = tuple[int, int, int]
_ONE_PATH: Cost = (1, 0, 0)
_SCANNING: Cost = (1, 0, 1)


def _plan(node: Node, after: Follow) -> tuple[int, int, Cost | None]:
    """(a bound on the program's size, checked against MAX_INSTRUCTIONS; how many
    instructions `_Emitter` lays out; the cost of Python's backtracking through `node`
    followed by `after`), in one walk of the tree. A repetition whose copies alone exceed
    the size limit raises ProgramTooLarge before its body is walked.

    The cost is (alternative paths, ambiguous repetitions, scanning repetitions), or None
    when a repetition's body is more than one character (its cost is unbounded here). A
    variable-length repetition of one item is ambiguous when a character it matches may
    also begin what follows: every length it gives back may lead somewhere, so it
    multiplies the tries by the lengths. Otherwise it scans: each length given back fails
    on the next character at once (that character matched the item, so it cannot begin
    what follows), and only the longest goes on. Before a rest that may match nothing it
    costs nothing at all: the longest length ends the search with a match.
    """
    kind = node[0]
    if kind == "seq":
        return _plan_sequence(node[1], after)
    if kind == "alt":
        return _plan_alternation(node[1], after)
    if kind == "repeat":
        return _plan_repeat(node, after)
    return 1, 1, _ONE_PATH


def _plan_sequence(children: list[Node], after: Follow) -> tuple[int, int, Cost | None]:
    # Every child counts as one instruction and one path (what a plain one is, whatever
    # follows) until planned otherwise.
    size = count = len(children)
    paths, ambiguous, scanning = _ONE_PATH
    bounded = True
    for at, child in enumerate(children):
        kind = child[0]
        if kind in _PLAIN:
            continue
        follow = _followed(children, after, at + 1)
        if kind == "repeat":
            inner, laid, found = _plan_repeat(child, follow)
        else:
            inner, laid, found = _plan(child, follow)
        size += inner - 1
        count += laid - 1
        if found is None:
            bounded = False
        elif bounded:
            paths *= found[0]
            ambiguous += found[1]
            scanning += found[2]
    return size, count, (paths, ambiguous, scanning) if bounded else None


def _plan_alternation(branches: list[Node], after: Follow) -> tuple[int, int, Cost | None]:
    size = count = 0
    costs: list[Cost] = []
    bounded = True
    for child in branches:
        inner, laid, found = _plan(child, after)
        size += inner + 2
        count += laid
        if found is None:
            bounded = False
        else:
            costs.append(found)
    count += 2 * (len(branches) - 1)
    if not bounded:
        return size, count, None
    # sum(p * n ** a) <= sum(p) * n ** max(a), and likewise for the scans.
    paths_each, ambiguous_each, scanning_each = zip(*costs, strict=True)
    return size, count, (sum(paths_each), max(ambiguous_each), max(scanning_each))


def _plan_repeat(node: Node, after: Follow) -> tuple[int, int, Cost | None]:
    _, body, low, high = node
    copies = (low or 1) + (1 if high is None else high - low)
    if copies > MAX_INSTRUCTIONS:
        raise ProgramTooLarge
    cost: Cost | None
    if body[0] == "item":
        inner, each = 1, 1
        if high == low or after[2]:
            # Its length is fixed, or the rest may match nothing (the longest length
            # then ends the search).
            cost = _ONE_PATH
        elif _disjoint(body, after):
            cost = _SCANNING
        else:
            cost = (2, 0, 0) if high == 1 else (1, 1, 0)
    else:
        inner, each, _ = _plan(body, _AT_END)
        # A group repeated a few times at most (`(www\.)?`) is its copies in a row, each
        # after the first optional; a longer or unbounded one is not bounded here.
        cost = None
        if high is not None and high <= _MAX_COPIES:
            optional = ("alt", [body, ("seq", [])])
            cost = _plan(("seq", [body] * low + [optional] * (high - low)), after)[2]
    total: int = copies * (inner + 2)
    if total > MAX_INSTRUCTIONS:
        raise ProgramTooLarge
    return total, low * each + (each + 2 if high is None else (high - low) * (each + 1)), cost


def _anchored(node: Node) -> bool:
    """Whether every match must start at the beginning of the text (at any other start
    the search fails on the first step)."""
    kind = node[0]
    if kind == "start":
        return True
    if kind == "seq":
        return bool(node[1]) and _anchored(node[1][0])
    if kind == "alt":
        return all(_anchored(child) for child in node[1])
    return False


# ---------------------------------------------------------------- program


class Program:
    """An immutable instruction list and a linear-time search over it."""

    __slots__ = ("anchored", "loops", "paths", "python_limit", "scans", "size", "tree")

    def __init__(
        self, tree: Node, count: int, cost: tuple[int, int, int] | None, anchored: bool
    ) -> None:
        self.tree = tree
        # How many instructions the program has (`count` laid out for the tree, and its
        # match instruction).
        self.size = count + 1
        self.paths: int
        self.loops: int
        self.scans: int
        self.paths, self.loops, self.scans = cost if cost is not None else (0, -1, 0)
        self.anchored = anchored
        self.python_limit = -1
        if cost is not None:
            # The largest size within budget (the cost grows with the size).
            low, high = -1, _PYTHON_TEXT
            if self.python_cost(high) <= PYTHON_BUDGET:
                low = high
            while low < high:
                middle = (low + high + 1) // 2
                if self.python_cost(middle) <= PYTHON_BUDGET:
                    low = middle
                else:
                    high = middle - 1
            self.python_limit = low

    def python_cost(self, size: int) -> int:
        """The bound on Python's backtracking steps for a text of `size` characters.

        Per start position, each combination of alternative paths and lengths of the
        ambiguous repetitions walks the program once (twice, counting the characters an
        ambiguous repetition consumes before giving them back) plus the lengths each
        scanning repetition consumes and gives back. An anchored pattern gets past the
        first step from one start only."""
        positions = size + 1
        walk = 2 * (self.size + 1 + 2 * positions * self.scans)
        tries: int = self.paths * positions**self.loops * walk
        return positions + tries if self.anchored else positions * tries

    @property
    def instructions(self) -> tuple[Instruction, ...]:
        """The instruction list, laid out on each read: only a text too long for Python's
        search needs it, and laying it out costs far less than running it on such a text."""
        emitter = _Emitter()
        emitter.node(self.tree)
        emitter.emit(_MATCH)
        return tuple([(k, a, o) for k, a, o in emitter.code])

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


def compile_program(translated: str, classes: dict[str, Any] | None = None) -> Program:
    """The program of a gated, Python-valid translated pattern (`classes`: see
    `regex_tree.read_tree`). Raises ProgramTooLarge."""
    tree = read_tree(translated, classes)
    size, count, cost = _plan(tree, _AT_END)
    if size > MAX_INSTRUCTIONS:
        raise ProgramTooLarge
    return Program(tree, count, cost, _anchored(tree))
