"""Dynamic cohorts compiled into trees of AND/OR groups.

The definitions carry only property-based cohorts; a filter naming any other cohort
(static, deleted) needs the server. Entries may be negated; nested groups may not.
Cohorts may reference each other; a reference back into a cohort being evaluated is a
definition posthog-python cannot evaluate (it recurses until Python gives up), reported
as BROKEN.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Protocol

from .compile_tables import CompileTables
from .dependencies import DependencyFilter, DependencyRun, compile_dependency
from .operators import compile_keyed_filter, compile_property_filter
from .property_matcher import INLINE_CONTAINS, INLINE_IN, Inline, PropertyMatcher
from .reasons import Unresolved, stronger
from .signals import BROKEN, NEEDS_SERVER_UNSUPPORTED, Outcome

__all__ = [
    "CHECKED_TYPES",
    "CohortCompiler",
    "CohortGroup",
    "CohortRef",
    "Filter",
    "FilterRun",
    "NotAnObject",
]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_COHORT_OPERATORS = ("exact", "in", "not_in")

# What the cohorts one filter reaches may add up to, so that no definition makes compiling
# or evaluating deep or slow: levels of nested groups and cohort references, and nodes
# (a cohort reached twice counts twice, as evaluation may check it twice). Real cohorts
# stay far below both; past either, the filter needs the server.
MAX_COHORT_DEPTH = 64
MAX_COHORT_NODES = 10_000
_TOO_FAR = (
    f"cohorts nest deeper than {MAX_COHORT_DEPTH} levels or reach more than "
    f"{MAX_COHORT_NODES} filters: too much to evaluate locally"
)


class FilterRun(DependencyRun, Protocol):
    """The part of an evaluation run any filter needs."""

    now: Any


class _ServerNode:
    """A malformed cohort body or entry: posthog-python sends the whole flag to the server."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def check(self, run: FilterRun, distinct_id: object, props: Mapping[str, object]) -> Outcome:
        return NEEDS_SERVER_UNSUPPORTED


class _CyclicNode:
    """A cohort reached again while it is being evaluated."""

    __slots__ = ("cohort_id",)

    def __init__(self, cohort_id: str) -> None:
        self.cohort_id = cohort_id

    def check(self, run: FilterRun, distinct_id: object, props: Mapping[str, object]) -> Outcome:
        return BROKEN


class NotAnObject:
    """A condition filter that is not an object: posthog-python fails on reaching it, which
    its filter loop reads like any other unexpected failure (see `signals.BROKEN`)."""

    __slots__ = ("label",)

    def __init__(self) -> None:
        self.label = "filter"

    def check(self, run: FilterRun, distinct_id: object, props: Mapping[str, object]) -> Outcome:
        return BROKEN


class CohortRef:
    """A `type: cohort` filter: membership (or, with `not_in`, non-membership)."""

    __slots__ = (
        "cohort_id",
        "label",
        "negate",
        "operator",
        "operator_ok",
        "same",
        "stops",
        "target",
    )

    def __init__(self, cohort_id: str, operator: Any, target: _Body | None) -> None:
        self.cohort_id = cohort_id
        self.operator = operator
        self.operator_ok = operator in _COHORT_OPERATORS
        self.negate = operator == "not_in"
        self.target = target
        self.label = f"cohort {cohort_id}"
        # Whether checking it may need the server or fail outright (see `CohortGroup`).
        self.stops = target is None or _stops(target)
        # Whether membership is the cohort body's own answer (a supported `in`), so a
        # condition may check the body directly.
        self.same = target is not None and self.operator_ok and not self.negate

    def check(self, run: FilterRun, distinct_id: object, props: Mapping[str, object]) -> Outcome:
        target = self.target
        if target is None:
            return NEEDS_SERVER_UNSUPPORTED
        if not self.operator_ok:
            return _UNSUPPORTED
        result = target.check(run, distinct_id, props)
        if result is True or result is False:
            return result is not self.negate
        return result

    def __repr__(self) -> str:
        return f"<CohortRef {self.cohort_id} {self.operator}>"


Filter = PropertyMatcher | CohortRef | DependencyFilter | NotAnObject


# A cohort group's entry: (plain, filter or nested node, negate, then a matcher's `inline`
# form spread out: kind (0 when it has none), lookup key, argument, its negate). Plain
# entries are property matchers; the rest are checked with `check(run, distinct_id, props)`.
_Entry = tuple[bool, Any, bool, int, Any, Any, bool]
_NO_INLINE: Inline = (0, None, None, False)


class CohortGroup:
    """An AND/OR group of entries (filters and nested groups).

    For AND a False entry decides the group, for OR a True one; undecided entries only
    matter when nothing decided. Needing the server (or a broken definition) wins even
    over a decided group, so a group whose entries may need the server evaluates them
    all; a group compilation proves cannot (`stops` False) returns as soon as it is
    decided.
    """

    __slots__ = ("entries", "is_and", "stops")

    def __init__(self, is_and: bool, entries: tuple[_Entry, ...]) -> None:
        self.is_and = is_and
        self.entries = entries
        stops = False
        for entry in entries:
            if not entry[0] and _stops(entry[1]):
                stops = True
                break
        self.stops = stops

    def check(self, run: FilterRun, distinct_id: object, props: Mapping[str, object]) -> Outcome:
        is_and = self.is_and
        now = run.now
        decided = False
        reason: Unresolved | None = None
        result: Any
        for plain, node, negate, kind, lookup, argument, flip in self.entries:
            # The commonest leaves answered in place (see `property_matcher.Inline`).
            if not kind:
                result = node.match(props, now) if plain else node.check(run, distinct_id, props)
            elif kind == INLINE_IN and type(value := props.get(lookup)) is str:
                result = (value.lower() in argument) is not flip
            elif kind == INLINE_CONTAINS and type(value := props.get(lookup)) is str:
                if not value.isascii():
                    result = node.match(props, now)
                else:
                    result = (argument in value.lower()) is not flip
            else:
                result = node.match(props, now)
            if result is True or result is False:
                if (result is not negate) is not is_and:
                    if not self.stops:
                        return not is_and
                    decided = True
            elif type(result) is Unresolved:
                reason = stronger(reason, result)
            else:
                return result  # type: ignore[no-any-return]
        if decided:
            return not is_and
        if reason is not None:
            return reason
        return is_and


def _stops(node: object) -> bool:
    """Whether checking a non-plain node may need the server or fail outright."""
    if type(node) is CohortGroup or type(node) is CohortRef:
        return node.stops
    return True


_Body = CohortGroup | _ServerNode | _CyclicNode
# Every filter and node type that is not a property matcher (checked with
# `check(run, distinct_id, props)`; a matcher with `match(props, now)`). Compiling asks
# by exact type, so evaluation branches on a stored flag instead.
CHECKED_TYPES: frozenset[type] = frozenset(
    [CohortGroup, CohortRef, DependencyFilter, NotAnObject, _ServerNode, _CyclicNode]
)
_Node = CohortGroup | _ServerNode | _CyclicNode | Filter


def _memo_key(key: str, operator: str | None, value: Any) -> Hashable | None:
    """What makes two filters with a text key and operator compile alike, or None when
    unsure (then no sharing).

    Values carry their type, so 1, 1.0 and True never share a matcher, and floats their
    exact bits, so 0.0 and -0.0 (whose texts differ) never do either. A list holding
    anything unhashable makes an unhashable key, which the caller treats as None.
    """
    kind: type = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (key, operator, kind, value)
    if kind is list:
        types = tuple(map(type, value))
        if float in types:
            return None
        return (key, operator, kind, tuple(value), types)
    if kind is float:
        return (key, operator, kind, value.hex())
    return None


class _Reach:
    """How far the filter being compiled reaches into cohorts so far: the nodes it may
    still reach (see MAX_COHORT_NODES), and the deepest level compiled."""

    __slots__ = ("deepest", "nodes")

    def __init__(self) -> None:
        self.nodes = MAX_COHORT_NODES
        self.deepest = 0


class CohortCompiler:
    """Compiles filters and the cohorts they reach, sharing cohort trees.

    A cohort tree is compiled once and shared wherever it is reached, with the nodes and
    levels it adds (so a filter reaching it again pays for it again), unless it depends
    on where compiling entered it: a tree that closes a cycle, or one cut short at the
    limits. Those are shared only between filters that name the cohort directly (then the
    entry is always the same).
    """

    def __init__(self, cohorts: Mapping[str, Any], matching_version: Any) -> None:
        self._cohorts = cohorts
        self._matching_version = matching_version if matching_version == 2 else 1
        self._explicit = matching_version == 2
        # Trees that do not depend on the entry: (tree, nodes, levels).
        self._done: dict[str, tuple[_Body, int, int]] = {}
        # Trees compiled for a filter naming the cohort directly.
        self._entered: dict[str, _Body] = {}
        self._matchers: dict[Hashable, PropertyMatcher] = {}
        # Payload sources by their JSON text: flags often repeat them. Sharing is safe
        # because a source hands out a fresh copy on every read.
        self.payloads: dict[str, Any] = {}
        # Compiled release conditions by what makes them alike, and variant tables by
        # their variants (see `compile_flags.compile_flag`).
        self.conditions: dict[Hashable, Any] = {}
        self.variant_tables: dict[Hashable, Any] = {}
        # Every dependency filter compiled, wherever it sits (see `flag_layout.finish_flags`).
        self.dependencies: list[DependencyFilter] = []
        # Every filter of a release condition, once per flag the condition is compiled for
        # (see `flag_layout.finish_flags`, which counts them).
        self.condition_filters: list[Filter] = []
        # Cut-offs, reason tokens and variant outcomes, worked out once for this compile.
        self.tables = CompileTables()

    def compile_filter(self, raw: Mapping[str, Any]) -> Filter:
        """A condition's filter: a cohort or dependency, or else a property matcher, shared
        between identical filters (they are common across flags). Filters whose key or
        operator is not text (never sent by the server) are compiled apart, unshared."""
        kind = raw.get("type")
        if kind == "cohort" or kind == "flag":
            return self._filter(raw, (), _Reach(), 0)[0]
        key = raw.get("key")
        operator = raw.get("operator")
        if type(key) is not str or (operator is not None and type(operator) is not str):
            return compile_property_filter(raw, matching_version=self._matching_version)
        value = raw.get("value")
        value_type = type(value)
        # Text, whole numbers and none, the commonest values, keyed in place (as `_memo_key`
        # would key them).
        memo_key = (
            (key, operator, value_type, value)
            if value_type is str or value_type is int or value is None
            else _memo_key(key, operator, value)
        )
        if memo_key is not None:
            try:
                matcher = self._matchers.get(memo_key)
            except TypeError:
                memo_key = None
            else:
                if matcher is not None:
                    return matcher
        matcher = compile_keyed_filter(key, operator, value, self._explicit, self.tables)
        if memo_key is not None:
            self._matchers[memo_key] = matcher
        return matcher

    def _filter(
        self, raw: Mapping[str, Any], stack: tuple[str, ...], reach: _Reach, depth: int
    ) -> tuple[Filter, bool]:
        """The compiled filter, and whether it depends on where compiling entered it (it
        closes a cohort cycle, or was cut short at the limits)."""
        kind = raw.get("type")
        if kind == "cohort":
            cohort_id = str(raw.get("value"))
            operator = raw.get("operator") or "exact"
            if cohort_id not in self._cohorts:
                return CohortRef(cohort_id, operator, None), False
            target, volatile = self._cohort(cohort_id, stack, reach, depth)
            return CohortRef(cohort_id, operator, target), volatile
        if kind == "flag":
            dependency = compile_dependency(raw)
            self.dependencies.append(dependency)
            return dependency, False
        return self.compile_filter(raw), False

    def _cohort(
        self, cohort_id: str, stack: tuple[str, ...], reach: _Reach, depth: int
    ) -> tuple[_Body, bool]:
        if cohort_id in stack:
            return _CyclicNode(cohort_id), True
        done = self._done.get(cohort_id)
        if done is not None:
            body, nodes, levels = done
            if nodes > reach.nodes or depth + levels > MAX_COHORT_DEPTH:
                return _ServerNode(_TOO_FAR), True
            reach.nodes -= nodes
            reach.deepest = max(reach.deepest, depth + levels)
            return body, False
        if not stack and cohort_id in self._entered:
            return self._entered[cohort_id], True
        nodes, deepest = reach.nodes, reach.deepest
        reach.deepest = depth
        body, volatile = self._group(self._cohorts[cohort_id], (*stack, cohort_id), reach, depth)
        if not volatile:
            self._done[cohort_id] = (body, nodes - reach.nodes, reach.deepest - depth)
        elif not stack:
            self._entered[cohort_id] = body
        reach.deepest = max(deepest, reach.deepest)
        return body, volatile

    def _group(
        self, raw: Any, stack: tuple[str, ...], reach: _Reach, depth: int
    ) -> tuple[_Body, bool]:
        """A cohort's group (or a group nested in one) at level `depth`, and whether it
        depends on where compiling entered it (see `_filter`)."""
        reach.nodes -= 1
        if depth >= MAX_COHORT_DEPTH or reach.nodes < 0:
            return _ServerNode(_TOO_FAR), True
        if depth >= reach.deepest:
            reach.deepest = depth + 1
        if type(raw) is not dict and not isinstance(raw, Mapping):
            return _ServerNode("a cohort property group is not an object"), False
        if not raw:
            return CohortGroup(True, ()), False  # matches everyone
        kind = raw.get("type")
        values = raw.get("values")
        if kind not in ("AND", "OR"):
            return _ServerNode(f"cohort property group type {kind!r} is not AND/OR"), False
        if not isinstance(values, list):
            return _ServerNode("cohort property group values are not a list"), False
        if not values:
            # An empty group of either kind matches everyone, as in posthog-python.
            return CohortGroup(True, ()), False
        is_and = kind == "AND"
        entries: list[_Entry] = []
        cyclic = False
        for item in values:
            if type(item) is not dict and not isinstance(item, Mapping):
                node: _Node = _ServerNode("a cohort entry is not an object")
                entries.append((False, node, False, 0, None, None, False))
                continue
            entry = item.get("type")
            if entry == "AND" or entry == "OR" or "values" in item or not item:
                # A nested group.
                node, inner = self._group(item, stack, reach, depth + 1)
                cyclic = cyclic or inner
                if type(node) is CohortGroup and node.is_and is is_and:
                    # A nested group of the same kind decides nothing of its own (AND of
                    # ANDs, OR of ORs): its entries, in order, join this group's.
                    entries.extend(node.entries)
                else:
                    entries.append((False, node, False, 0, None, None, False))
                continue
            reach.nodes -= 1
            if entry == "cohort" or entry == "flag":
                node, inner = self._filter(item, stack, reach, depth + 1)
                cyclic = cyclic or inner
                entries.append(
                    (False, node, bool(item.get("negation", False)), 0, None, None, False)
                )
            else:
                # Anything else is a property filter, so a matcher (checked with `match`).
                matcher: PropertyMatcher = self.compile_filter(item)  # type: ignore[assignment]
                negate = bool(item.get("negation", False))
                way, lookup, argument, flip = matcher.inline or _NO_INLINE
                entries.append((True, matcher, negate, way, lookup, argument, flip))
        if reach.nodes < 0:
            return _ServerNode(_TOO_FAR), True
        return CohortGroup(is_and, tuple(entries)), cyclic


def filter_problems(
    item: Filter, flags: Mapping[str, Any], seen: set[str]
) -> Iterator[tuple[Unresolved, str, bool]]:
    """Static problems of one filter and everything it reaches.

    Yields (reason, message, counted): `counted` marks what posthog-python's own
    classifier counts as an unsupported definition (it decides the reason a flag reports
    when evaluation stops at the server).
    """
    # Exact types first: the abstract matcher class is the slowest to test for.
    if type(item) is DependencyFilter:
        yield from item.static_problems(flags)
        return
    if type(item) is NotAnObject:
        yield _UNSUPPORTED, "a filter is not an object", False
        return
    if type(item) is not CohortRef:
        matcher: PropertyMatcher = item  # type: ignore[assignment]
        if matcher.definition_problem is not None:
            yield _UNSUPPORTED, f"filter on {matcher.key!r}: {matcher.definition_problem}", True
        return
    if item.target is None:
        yield (
            _UNSUPPORTED,
            f"cohort {item.cohort_id} is not in the definitions (a static or unknown "
            "cohort): only the server knows its members",
            True,
        )
        return
    if not item.operator_ok:
        yield _UNSUPPORTED, f"cohort operator {item.operator!r} is not supported", True
        return
    if item.cohort_id in seen:
        return
    seen.add(item.cohort_id)
    yield from _body_problems(item.target, flags, seen, item.cohort_id)


def _body_problems(
    body: _Node, flags: Mapping[str, Any], seen: set[str], cohort_id: str
) -> Iterator[tuple[Unresolved, str, bool]]:
    if isinstance(body, _ServerNode):
        yield _UNSUPPORTED, f"cohort {cohort_id}: {body.message}", True
    elif isinstance(body, _CyclicNode):
        yield _UNSUPPORTED, f"cohort {body.cohort_id} includes itself", False
    elif isinstance(body, CohortGroup):
        for entry in body.entries:
            node = entry[1]
            yield from _body_problems(node, flags, seen, cohort_id)
    else:
        yield from filter_problems(body, flags, seen)
