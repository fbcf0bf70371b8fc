"""Regex matching is bounded by the text's size whatever the pattern, and answers exactly as
Python's `re.search` on the translated pattern (what PostHog 7.91.1 runs) wherever that
search finishes."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from hogkit.core import DefinitionsError, FlagSet
from hogkit.core.operators import compile_property_filter
from hogkit.core.regex import MAX_STEPS, MAX_TEXT, GatedPattern, gate_pattern
from hogkit.core.regex_program import MAX_INSTRUCTIONS, PYTHON_BUDGET
from hogkit.core.regex_tree import read_tree
from hypothesis import assume, given, settings
from hypothesis import strategies as st

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)

CATASTROPHIC = [
    "(a|a)*$",
    "(a|aa)+$",
    "(a|a)*b",
    "a*a*a*a*a*a*b",
    ".*.*.*.*.*.*=",
    "(ab|a|b)*c",
    "(a|b|ab)*bc",
    "(?:a|aa){1,50}$",
    "(?:a|a|a|a)*(?:b|b)*(?:a|b)*$",
    "\\w*\\w*\\w*\\w*!",
    "(?:\\d|\\w|[0-9a-z])+$",
    "(?:.|\\s)*x",
    "a?" * 20 + "a" * 20,
]
# Repetitions of groups that repeat inside: outside the subset shared with the server.
NESTED = [
    "(a+)+$",
    "(a*)*b",
    "((a|b)*)*c",
    "(a|a?)+$",
    "(\\w+\\s?)*$",
    "^(([a-z])+.)+[A-Z]([a-z])+$",
    "(x+x+)+y",
    "(.*a){12}",
    "([a-z0-9]+)*@",
]
LONG_INPUTS = [
    "a" * 30 + "!",
    "a" * 10_000 + "!",
    "ab" * 5_000 + "!",
    "a" * 9_999 + "\n",
    "x" * 10_000,
    ("a" * 99 + " ") * 100,
    "=" + "." * 9_999,
    "é" * 10_000,
]


def gated(pattern: str) -> GatedPattern:
    result = gate_pattern(pattern)
    assert isinstance(result, GatedPattern), result
    return result


def bounded_answer(pattern: GatedPattern, text: str) -> bool | None:
    """`pattern.search(text)`, asserting which strategy answers and that it is bounded."""
    answer = pattern.search(text)
    program = pattern._program
    if answer is None:
        return None
    if len(text) <= program.python_limit:
        # Python's search: every repetition repeats one character, and the bound on its
        # backtracking for this text's size is within budget.
        assert program.loops >= 0
        assert program.python_cost(len(text)) <= PYTHON_BUDGET
        return answer
    found, steps = program.search(text)
    assert found is answer
    assert steps <= (len(text) + 1) * 3 * len(program.instructions) <= MAX_STEPS
    return answer


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_are_matched_locally_within_the_step_bound(pattern: str) -> None:
    compiled = gated(pattern)
    assert compiled._program.python_limit < 30
    for text in LONG_INPUTS:
        answer = bounded_answer(compiled, text)
        # Unsupported only for the reasons any pattern has (a final newline with `$` and
        # repetition, `\w` against non-ASCII punctuation), or when even the linear
        # search's worst case is over the budget.
        if answer is None:
            worst = (len(text) + 1) * 3 * len(compiled._program.instructions)
            assert text.endswith("\n") or not text.isascii() or worst > MAX_STEPS


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_patterns_answer_as_python_does_on_short_texts(pattern: str) -> None:
    compiled = gated(pattern)
    for size in range(12):
        for text in ("a" * size + "!", "ab" * size + "c", "a" * size, "x" * size + "y"):
            expected = re.search(compiled._regex.pattern, text) is not None
            assert compiled.search(text) is expected, text


@pytest.mark.parametrize("pattern", CATASTROPHIC[:6])
def test_catastrophic_filters_resolve_through_the_operator(pattern: str) -> None:
    for operator in ("regex", "not_regex"):
        matcher = compile_property_filter(
            {"key": "email", "operator": operator, "value": pattern}, matching_version=1
        )
        for text in ("a" * 40 + "!", "a" * 10_000 + "!"):
            result = matcher.match({"email": text}, NOW)
            assert isinstance(result, bool)
            expected = gated(pattern)._program.search(text)[0]
            assert result is (expected is (operator == "regex"))


@pytest.mark.parametrize("pattern", NESTED)
def test_nested_repetitions_go_to_the_server(pattern: str) -> None:
    reason = gate_pattern(pattern)
    assert isinstance(reason, str) and "repeats" in reason
    matcher = compile_property_filter(
        {"key": "p", "operator": "regex", "value": pattern}, matching_version=1
    )
    assert matcher.match({"p": "a" * 10_000}, NOW).value == "unsupported_definition"  # type: ignore[union-attr]


def test_huge_texts_and_huge_programs_go_to_the_server() -> None:
    assert gated("a.*b").search("a" * (MAX_TEXT + 1)) is None
    assert gate_pattern("a{100000}") == "regex too large to match locally in bounded time"
    assert gate_pattern("(?:abcdefghij){300}") == "regex too large to match locally in bounded time"
    matcher = compile_property_filter(
        {"key": "p", "operator": "regex", "value": "(?:abcdefghij){300}"}, matching_version=1
    )
    assert matcher.match({"p": "a"}, NOW).value == "unsupported_definition"  # type: ignore[union-attr]
    # A program that fits, against a text too long for its worst case: the server decides.
    big = gated("(?:a|b){200}c")
    assert len(big._program.instructions) <= MAX_INSTRUCTIONS
    assert big.search("ab" * 4_000) is None


def test_python_s_search_is_kept_where_its_backtracking_is_bounded() -> None:
    for pattern, limit in (
        ("beta", 4_096),
        ("^\\d{3}-\\d{4}$", 4_096),
        ("^.*@posthog\\.com$", 100),
        ("^[a-z]+-[0-9]+$", 40),
        ("(a|b)*c", -1),
        ("(a|aa)+$", -1),
        # Repetitions whose next character cannot be one they repeat give lengths back
        # without trying anything: Python's search stays linear or quadratic.
        ("^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$", 500),
        ("^v?1\\.[0-9]+\\.[0-9]+$", 4_096),
        ("^(www\\.)?[a-z0-9-]+\\.example\\.com$", 4_096),
        ("^https?://[^/]+/.*$", 4_096),
        # A leading and a trailing `.*` are dropped: they cannot change the answer.
        (".*beta.*", 4_096),
        # Repetitions that may each take the next character multiply the lengths to try.
        ("\\w*\\w*\\w*!", -2),
        (".*.*.*=", -2),
    ):
        program = gated(pattern)._program
        if limit == -2:
            assert 0 <= program.python_limit < 200
        else:
            assert program.python_limit >= limit if limit >= 0 else program.python_limit == -1
        if program.python_limit >= 0:
            assert program.python_cost(program.python_limit) <= PYTHON_BUDGET
            if program.python_limit < 4_096:
                assert program.python_cost(program.python_limit + 1) > PYTHON_BUDGET


# ------------------------------------------------------------------ differential


def _pattern_strategy() -> st.SearchStrategy[str]:
    atoms = st.sampled_from(
        ["a", "b", ".", "\\d", "\\w", "\\s", "\\W", "[ab]", "[^a]", "[a-c]", "\\.", "\\x61", "é"]
    )
    quantifiers = st.sampled_from(["", "", "*", "+", "?", "*?", "+?", "{2}", "{0,2}", "{1,}"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, inner).map("".join),
            st.tuples(inner, inner).map(lambda p: f"(?:{p[0]}|{p[1]})"),
            st.tuples(inner, quantifiers).map(lambda p: f"({p[0]}){p[1]}"),
        )

    body = st.recursive(st.tuples(atoms, quantifiers).map("".join), extend, max_leaves=6)
    return st.tuples(st.sampled_from(["", "^"]), body, st.sampled_from(["", "$"])).map("".join)


@settings(max_examples=max(800, settings.default.max_examples))
@given(pattern=_pattern_strategy(), text=st.text(alphabet="ab.1 é_\n", max_size=8))
def test_linear_search_agrees_with_python(pattern: str, text: str) -> None:
    compiled = gate_pattern(pattern)
    if not isinstance(compiled, GatedPattern):
        return  # outside the subset or invalid: covered by the reference comparisons
    expected = compiled._regex.search(text) is not None
    assert compiled._program.search(text)[0] is expected


@settings(max_examples=max(800, settings.default.max_examples))
@given(
    pattern=st.text(alphabet=list("ab1.^$*+?{}()[]|\\-:,dDwWsSx2 "), max_size=12),
    text=st.text(alphabet="ab1 -\n_", max_size=8),
)
def test_linear_search_agrees_with_python_on_any_gated_pattern(pattern: str, text: str) -> None:
    compiled = gate_pattern(pattern) if pattern else None
    if isinstance(compiled, GatedPattern):
        assert compiled._program.search(text)[0] is (compiled._regex.search(text) is not None)


# ------------------------------------------------------------------ definition documents

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.sampled_from(["\ud800", "\udfff", "1e999", "10" * 40]),
)
bad_regexes = st.one_of(
    st.sampled_from(CATASTROPHIC), st.text(alphabet="a(|)*+?[]{}\\$^.", max_size=12)
)


def _property_filter() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "key": st.sampled_from(["email", "p", "\ud800"]),
            "operator": st.sampled_from(["regex", "not_regex", "exact", "icontains", "gt"]),
            "value": st.one_of(bad_regexes, json_leaf),
            "type": st.just("person"),
        }
    )


def _flag() -> st.SearchStrategy[Any]:
    condition = st.fixed_dictionaries(
        {
            "properties": st.lists(_property_filter(), max_size=3),
            "rollout_percentage": st.one_of(st.none(), st.integers(-5, 150), st.just(1e308)),
        }
    )
    flag = st.fixed_dictionaries(
        {
            "key": st.one_of(st.text(max_size=4), st.just("\ud800")),
            "active": st.booleans(),
            "filters": st.fixed_dictionaries(
                {
                    "groups": st.lists(condition, max_size=2),
                    "payloads": st.dictionaries(st.sampled_from(["true"]), json_leaf, max_size=1),
                }
            ),
        }
    )
    nested = st.integers(1, 3_000).map(Nested)
    return st.one_of(flag, flag, flag, nested, json_leaf)


class Nested:
    """A flag nested `depth` levels deep (built without recursion, as value or as text)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth

    def value(self) -> Any:
        value: Any = {"key": "deep"}
        for _ in range(self.depth):
            value = {"key": "deep", "filters": value} if self.depth % 2 else [value]
        return value

    def text(self) -> str:
        if self.depth % 2:
            return '{"key":"deep","filters":' * self.depth + '{"key":"deep"}' + "}" * self.depth
        return "[" * self.depth + '{"key":"deep"}' + "]" * self.depth

    def __repr__(self) -> str:
        return f"Nested({self.depth})"


def _as_text(flags: list[Any]) -> str:
    items = [f.text() if isinstance(f, Nested) else json.dumps(f) for f in flags]
    return '{"flags":[' + ",".join(items) + "]}"


@settings(max_examples=max(200, settings.default.max_examples), deadline=None)
@given(
    flags=st.lists(_flag(), max_size=4),
    as_text=st.booleans(),
    email=st.one_of(st.text(max_size=10), st.sampled_from(LONG_INPUTS)),
)
def test_any_document_loads_or_raises_definitions_error_and_evaluates(
    flags: list[Any], as_text: bool, email: str
) -> None:
    try:
        if as_text:
            flag_set = FlagSet.from_json(_as_text(flags))
        else:
            values = [f.value() if isinstance(f, Nested) else f for f in flags]
            flag_set = FlagSet.from_document({"flags": values})
    except DefinitionsError:
        return
    snapshot = flag_set.evaluate("person", person_properties={"email": email, "p": email}, now=NOW)
    assert set(snapshot.keys) | set(snapshot.unresolved) >= set(flag_set.keys)
    # Every regex the document holds is bounded against the value evaluated.
    for flag in flags:
        for pattern in _regexes(flag):
            compiled = gate_pattern(pattern) if pattern else None
            if isinstance(compiled, GatedPattern):
                bounded_answer(compiled, email)


def _regexes(flag: Any) -> list[str]:
    if not isinstance(flag, dict):
        return []
    found = []
    for condition in flag.get("filters", {}).get("groups", []) or []:
        for item in condition.get("properties") or []:
            if item.get("operator") in ("regex", "not_regex") and isinstance(item["value"], str):
                found.append(item["value"])
    return found


@settings(max_examples=max(400, settings.default.max_examples))
@given(
    body=_pattern_strategy(),
    lead=st.sampled_from(["", ".*", ".*?"]),
    trail=st.sampled_from(["", ".*", ".*?"]),
    text=st.text(alphabet="ab.1 _\n", max_size=8),
)
def test_dropping_a_leading_or_trailing_dot_star_keeps_the_answer(
    body: str, lead: str, trail: str, text: str
) -> None:
    pattern = lead + body.replace("$", "") + trail
    compiled = gate_pattern(pattern)
    if isinstance(compiled, GatedPattern):
        answer = compiled.search(text)
        if answer is not None:
            assert answer is (re.search(pattern, text) is not None)


PATTERNS_SHARING_CLASSES = [
    r"^[a-z]+\d*@acme\.",
    r"^[a-z]+\d*@globex\.",
    r"[a-z]+[0-9]*[a-z]",
    r"[0-9]+-[a-z]+",
    r"(?:[a-z]|[0-9])+x",
]
SHARED_TEXTS = ["bob7@acme.io", "bob@globex.", "x", "ab12c", "12-ab", "a1x", "", "A@acme."]


def test_patterns_sharing_class_items_plan_and_answer_alike() -> None:
    # One compile's patterns share their class and escape items; each still plans and
    # answers as when read alone.
    classes: dict[str, Any] = {}
    shared = [gate_pattern(pattern, classes) for pattern in PATTERNS_SHARING_CLASSES]
    assert set(classes) == {"[a-z]", "[0-9]", "\\."}
    for pattern, together in zip(PATTERNS_SHARING_CLASSES, shared, strict=True):
        alone = gate_pattern(pattern)
        assert isinstance(together, GatedPattern) and isinstance(alone, GatedPattern)
        assert together.ascii_plan[1:] == alone.ascii_plan[1:]
        for text in SHARED_TEXTS:
            expected = re.search(pattern, text) is not None
            assert together.search(text) is expected
            assert together.occurs(text * 2000) is alone.occurs(text * 2000)


@pytest.mark.filterwarnings("ignore:Possible set:FutureWarning")
@given(body=st.text(alphabet="az09-._%+^|&~$ ", min_size=1, max_size=8))
def test_class_members_read_from_the_text_are_python_s(body: str) -> None:
    # A class without escapes is read from its text, without a search: its members and
    # its test must be exactly what Python's `re` reads into it.
    pattern = f"[{body}]"
    try:
        compiled = re.compile(pattern)
    except re.error:
        assume(False)
    item = read_tree(pattern)
    every = "".join(map(chr, range(128)))
    assert item[0] == "item"
    negated = body.startswith("^")
    members = None if item[2] is None else set(item[2])
    assert members == (None if negated else set(compiled.findall(every)))
    assert [bool(item[1](ch)) for ch in every] == [bool(compiled.fullmatch(ch)) for ch in every]
