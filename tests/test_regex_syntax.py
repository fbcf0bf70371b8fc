"""The regex subset table: each construct is accepted with its Python spelling or refused
for its reason, exactly where PostHog 7.91.1's translator accepts or defers it."""

from __future__ import annotations

import re
import warnings

import pytest
from hogkit.core.regex import gate_pattern
from hogkit.core.regex_syntax import OutsideSubset, Translation, translate
from hypothesis import given, settings
from hypothesis import strategies as st
from posthog.feature_flags import InconclusiveMatchError, _compile_regex

# Accepted: pattern -> (Python spelling, uses \w/\W, uses \s/\S, `$` with repetition).
ACCEPTED = {
    "abc": ("abc", False, False, False),
    "a.c]}": ("a.c]}", False, False, False),
    "^ab$": ("^ab\\Z", False, False, False),
    "a+$": ("a+\\Z", False, False, True),
    "a|b$": ("a|b\\Z", False, False, True),
    "a{2}$": ("a{2}\\Z", False, False, True),
    "\\d\\D\\f\\n\\r\\t": ("\\d\\D\\f\\n\\r\\t", False, False, False),
    "\\w+": ("\\w+", True, False, False),
    "\\S": ("\\S", False, True, False),
    "[\\W]": ("[\\W]", True, False, False),
    "[^\\s]": ("[^\\s]", False, True, False),
    "\\x41[\\x41-\\x5a]": ("\\x41[\\x41-\\x5a]", False, False, False),
    "\\.\\/\\ \\#\\$": ("\\.\\/\\ \\#\\$", False, False, False),
    "[\\b\\]\\-\\^]": ("[\\b\\]\\-\\^]", False, False, False),
    "(?:ab)+": ("(?:ab)+", False, False, False),
    "(a|b)*c": ("(a|b)*c", False, False, False),
    "(a)(b+)": ("(a)(b+)", False, False, False),
    "a{2}b{2,}c{2,5}": ("a{2}b{2,}c{2,5}", False, False, False),
    "a*?b+?c??d{2}?": ("a*?b+?c??d{2}?", False, False, False),
    "[^a-z]": ("[^a-z]", False, False, False),
    "[a-][-a]": ("[a-][-a]", False, False, False),
    # A bar doubled in a class: Python would warn about a future set union.
    "[a||b]": ("[a\\||b]", False, False, False),
    # Invalid for Python too: translated as they are, then Python's compiler rejects them.
    "a\\": ("a\\", False, False, False),
    "[abc": ("[abc", False, False, False),
    "*a": ("*a", False, False, False),
    "a**": ("a**", False, False, False),
    "(a": ("(a", False, False, False),
    "a{3,1}": ("a{3,1}", False, False, False),
}

# Refused: pattern -> part of the reason.
REFUSED = {
    "a\ud800": "surrogate",
    "(?=a)": "group extension",
    "(?!a)": "group extension",
    "(?<=a)b": "group extension",
    "(?P<n>a)": "group extension",
    "(?i)a": "group extension",
    "a(?": "group extension",
    "\\bfoo": "word boundary",
    "a\\B": "word boundary",
    "\\<a\\>": "word boundary",
    "\\A": "escape \\A",
    "a\\Z": "escape \\Z",
    "(a)\\1": "escape \\1",
    "\\u0041": "escape \\u",
    "\\é": "escape \\é",
    "\\\n": "escape",
    "[\\B]": "in a class",
    "[\\<]": "in a class",
    "[\\/]": "in a class",
    "\\x4": "two hex digits",
    "\\xg1": "two hex digits",
    "[\\x]": "two hex digits",
    "[a[b]": "nested class",
    "[a&&b]": "set operation",
    "[a--b]": "set operation",
    "[a~~b]": "set operation",
    "[]": "empty class",
    "[^]": "empty class",
    "[]a]": "empty class",
    "[\\d-z]": "shorthand endpoint",
    "[a-\\w]": "shorthand endpoint",
    "[\\\\d-z]": "shorthand endpoint",  # judged on the raw text: conservative
    "^*": "nothing to repeat",
    "a$+": "nothing to repeat",
    "()*": "nothing to repeat",
    "(?:)?": "nothing to repeat",
    "(())+": "nothing to repeat",
    "{2}": "nothing to repeat",
    "a|{2}": "nothing to repeat",
    "({2})": "nothing to repeat",
    "a?{2}": "stacked",
    "a*+": "stacked",
    "a++": "stacked",
    "a?+": "stacked",
    "a{2}+": "stacked",
    "a{2}{3}": "stacked",
    "a{,3}": "malformed",
    "a{x}": "malformed",
    "a{": "malformed",
    "a{12345678901}": "too large",
    "a{4294967296}": "too large",
    "a{1,4294967296}": "too large",
    "(a+)+": "repeats",
    "(a*)?": "repeats",
    "((a|b)*)*": "repeats",
    "(?:a{2})+": "repeats",
    "((a+))*": "repeats",
}


def oracle(pattern: str) -> str | Translation | None:
    """PostHog's translation: "deferred", None (Python rejects) or the translation."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # `||` in a class
            compiled = _compile_regex(pattern)
    except InconclusiveMatchError:
        return "deferred"
    if compiled is None:
        return None
    return Translation(
        compiled.regex.pattern,
        compiled.uses_word_class,
        compiled.uses_space_class,
        compiled.uses_end_anchor and compiled.uses_quantifier_or_alternation,
    )


@pytest.mark.parametrize("pattern", sorted(ACCEPTED))
def test_accepted_constructs_and_their_python_spelling(pattern: str) -> None:
    assert translate(pattern) == Translation(*ACCEPTED[pattern])
    reference = oracle(pattern)
    assert reference != "deferred"
    if reference is None:
        assert gate_pattern(pattern) is None
    elif "||" not in pattern:
        assert reference == translate(pattern)


@pytest.mark.parametrize("pattern", sorted(REFUSED))
def test_refused_constructs_and_why(pattern: str) -> None:
    with pytest.raises(OutsideSubset) as refused:
        translate(pattern)
    assert REFUSED[pattern] in str(refused.value)
    assert oracle(pattern) == "deferred"
    reason = gate_pattern(pattern)
    assert isinstance(reason, str) and REFUSED[pattern] in reason


# Pieces the generator strings together: every construct of both tables and their edges.
PIECES = [
    *"ab1.^$*+?{}()[]|-:,&~ \n\\xdwsbZé",
    *["\\d", "\\w", "\\s", "\\W", "\\S", "\\b", "\\B", "\\<", "\\x41", "\\x4", "\\\\"],
    *["\\-", "\\]", "\\[", "\\|", "\\/", "\\n", "(?:", "(?=", "[^", "--", "&&", "||"],
    *["{2}", "{2,}", "{1,3}", "{,3}", "{3,1}", "{12345678901}", "{4294967296}", "*?"],
    "\ud83d",
]
patterns = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
    st.text(max_size=12),
)


def same_matches(ours: str, theirs: str) -> bool:
    """Whether two spellings accept the same texts (Python warns about `||` in a class)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        reference = re.compile(theirs)
    compiled = re.compile(ours)
    texts = ["", "a", "b", "|", "||", "a|b", "ab", "-", "1", " ", "\n", "x|y", "é"]
    return all((compiled.search(t) is None) == (reference.search(t) is None) for t in texts)


@settings(max_examples=3000)
@given(pattern=patterns)
def test_translation_matches_the_reference_translator(pattern: str) -> None:
    reference = oracle(pattern)
    try:
        ours = translate(pattern)
    except OutsideSubset:
        assert reference == "deferred"
        return
    assert reference != "deferred"
    if reference is None:
        assert gate_pattern(pattern) is None
        return
    assert isinstance(reference, Translation)
    assert ours[1:] == reference[1:]
    if "||" in reference.python:
        assert same_matches(ours.python, reference.python)
    else:
        assert ours.python == reference.python
