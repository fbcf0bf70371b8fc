"""Flag dependencies: a filter `{"type": "flag", "key": <parent>, "value": <expected>}`.

The server sends each dependency with its `dependency_chain`, the flags to evaluate first,
in order, ending with the parent itself; an empty chain is how it marks a cycle. Like
posthog-python, evaluation walks the chain with a memo that lives for one top-level flag, then
compares the parent's value with the expected one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Protocol

from .reasons import Unresolved
from .signals import BROKEN, Outcome

__all__ = ["DependencyFilter", "DependencyRun", "compile_dependency", "matches_dependency_value"]

_UNSUPPORTED = Unresolved.UNSUPPORTED_DEFINITION
_UNRESOLVED_DEPENDENCY = Unresolved.UNRESOLVED_DEPENDENCY


class _Unhashable:
    """Stands in for a chain member that cannot be a flag key (posthog-python fails on it)."""

    __slots__ = ()


_UNHASHABLE = _Unhashable()


class DependencyRun(Protocol):
    """The part of an evaluation run a dependency needs."""

    flags: Mapping[str, Any]
    cache: dict[Any, bool | str | None] | None

    def evaluate_dependency(
        self, key: str, distinct_id: object, properties: Mapping[str, object]
    ) -> Outcome | None: ...


def matches_dependency_value(expected: object, actual: object) -> bool:
    """Whether a parent's value satisfies the expected one.

    Any variant satisfies `True`, and a specific variant only itself (case-sensitive);
    booleans compare as booleans; nothing else matches (not even `"true"` against True).
    """
    if isinstance(actual, str) and actual:
        if isinstance(expected, bool):
            return expected
        if isinstance(expected, str):
            return actual == expected
        return False
    if isinstance(actual, bool) and isinstance(expected, bool):
        return actual == expected
    return False


class DependencyFilter:
    """A compiled `flag_evaluates_to` filter."""

    __slots__ = (
        "chain",
        "expected",
        "key",
        "key_hashable",
        "label",
        "malformed",
        "problem",
        "resolvable",
    )

    def __init__(
        self,
        key: Any,
        expected: Any,
        chain: tuple[Any, ...],
        malformed: str | None,
        problem: str | None,
    ) -> None:
        self.key = key
        self.expected = expected
        self.chain = chain
        self.malformed = malformed
        self.problem = problem
        # Exact str first: the abstract Hashable check is slow, and keys are text.
        self.key_hashable = type(key) is str or isinstance(key, Hashable)
        self.label = f"flag {key}"
        # Whether every chain member has a definition (set by `settle` once every flag is
        # known): then evaluation need not look for missing members first.
        self.resolvable = False

    def settle(self, flags: Mapping[str, Any]) -> None:
        """Note whether the chain can be walked without meeting a missing member, and
        evaluates the parent itself (the server ends every chain with it). A chain that
        does not name its parent reads whatever the flag's memo holds for it, which
        depends on what the flag evaluated before, so such a set shares no memo."""
        self.resolvable = (
            self.malformed is None
            and self.problem is None
            and self.key_hashable
            and self.key in flags
            and self.key in self.chain
            and all(member is not _UNHASHABLE and member in flags for member in self.chain)
        )

    def check(
        self, run: DependencyRun, distinct_id: object, properties: Mapping[str, object]
    ) -> Outcome:
        cache = run.cache
        if cache is None:
            cache = run.cache = {}
        if self.resolvable:
            for member in self.chain:
                if member not in cache:
                    outcome = run.evaluate_dependency(member, distinct_id, properties)
                    if outcome is not None:
                        return outcome
            # The commonest comparison, a boolean parent against a boolean, in place.
            actual = cache.get(self.key)
            if (actual is True or actual is False) and type(self.expected) is bool:
                return actual is self.expected
            return self._compare(cache)
        return self._check_unsettled(run, cache, distinct_id, properties)

    def _check_unsettled(
        self,
        run: DependencyRun,
        cache: dict[Any, Any],
        distinct_id: object,
        properties: Mapping[str, object],
    ) -> Outcome:
        """A dependency whose chain may meet a missing member, or that is malformed."""
        if self.malformed is not None:
            # The server treats a malformed dependency as not matching; so does posthog-python.
            return False
        if self.problem is not None:
            return _UNSUPPORTED
        flags = run.flags
        # A member with no definition outranks one that is only inconclusive, so the whole
        # chain is checked before anything is evaluated.
        for member in self.chain:
            if member is _UNHASHABLE:
                return BROKEN
            if member not in cache and member not in flags:
                cache[member] = None
                return _UNSUPPORTED
        for member in self.chain:
            if member in cache:
                continue
            outcome = run.evaluate_dependency(member, distinct_id, properties)
            if outcome is not None:
                return outcome
        if not self.key_hashable:
            return BROKEN
        if self.key not in flags:
            return _UNSUPPORTED
        return self._compare(cache)

    def _compare(self, cache: Mapping[Any, Any]) -> Outcome:
        """The parent's value (in the cache) against the expected one."""
        actual = cache.get(self.key)
        if actual is None:
            return _UNRESOLVED_DEPENDENCY if self.key in cache else _UNSUPPORTED
        return matches_dependency_value(self.expected, actual)

    def static_problems(self, flags: Mapping[str, Any]) -> Iterator[tuple[Unresolved, str, bool]]:
        """(reason, message, counted by posthog-python's own classifier) for each problem."""
        if self.malformed is not None:
            return
        if self.problem is not None:
            yield _UNSUPPORTED, self.problem, True
            return
        missing = [m for m in self.chain if m is _UNHASHABLE or m not in flags]
        if missing:
            names = ", ".join("<invalid>" if m is _UNHASHABLE else repr(m) for m in missing)
            yield (
                _UNSUPPORTED,
                f"depends on flag {self.key!r}, but {names} has no definition",
                True,
            )

    def __repr__(self) -> str:
        return f"<DependencyFilter {self.key!r} == {self.expected!r}>"


def compile_dependency(raw: Mapping[str, Any]) -> DependencyFilter:
    """Read a `type: flag` filter; never raises."""
    key = raw.get("key")
    expected = raw.get("value")
    operator = raw.get("operator", "exact")
    malformed: str | None = None
    if operator != "flag_evaluates_to":
        malformed = f"invalid operator {operator!r} for a flag dependency"
    elif not key or expected is None:
        malformed = "flag dependency without a key or an expected value"
    problem: str | None = None
    chain: tuple[Any, ...] = ()
    if "dependency_chain" not in raw:
        problem = f"dependency on flag {key!r} has no dependency_chain"
    else:
        raw_chain = raw["dependency_chain"]
        if not isinstance(raw_chain, list):
            problem = f"dependency on flag {key!r} has an invalid dependency_chain"
        elif not raw_chain:
            problem = f"dependency on flag {key!r} is circular"
        else:
            chain = tuple(
                [m if type(m) is str or isinstance(m, Hashable) else _UNHASHABLE for m in raw_chain]
            )
    return DependencyFilter(key, expected, chain, malformed, problem)
