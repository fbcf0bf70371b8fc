"""Patterns of the simplest shape (plain characters, common escapes and plain classes,
each repeated at most once, after an optional `^` and before an optional `$`) are
translated in one step; the answer must be the one reading them piece by piece gives. A
non-capturing group around such a pattern sends it through the piece-by-piece reading
without changing what it means."""

from __future__ import annotations

import random

import pytest
from hogkit.core.regex_syntax import OutsideSubset, Translation, translate

ITEMS = ["a", "Z", "7", "@", ".", " ", "é", "]", "}", "\\d", "\\W", "\\s", "\\S", "\\w"]
ITEMS += ["\\.", "\\$", "\\[", "\\\\", "\\t", "\\n", "\\-", "\\ ", "[a-z]", "[^0-9]", "[-a]"]
ITEMS += ["[a^]", "[^^]", "[&a~|]", "[a-]"]
QUANTIFIERS = ["", "", "*", "+", "?", "*?", "+?", "??"]


def shaped(rng: random.Random) -> str:
    items = [rng.choice(ITEMS) + rng.choice(QUANTIFIERS) for _ in range(rng.randint(1, 6))]
    return rng.choice(["", "^"]) + "".join(items) + rng.choice(["", "", "$"])


def piece_by_piece(pattern: str) -> Translation | str:
    try:
        grouped = translate(f"(?:{pattern})")
    except OutsideSubset as outside:
        return str(outside)
    assert grouped.python.startswith("(?:") and grouped.python.endswith(")")
    return grouped._replace(python=grouped.python[3:-1])


@pytest.mark.parametrize("seed", range(8))
def test_simple_shapes_translate_as_piece_by_piece(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        pattern = shaped(rng)
        try:
            direct: Translation | str = translate(pattern)
        except OutsideSubset as outside:
            direct = str(outside)
        assert direct == piece_by_piece(pattern), pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "[^]",
        "[]a]",
        "a$$",
        "$",
        "^$",
        "a$b",
        "a?+",
        "a**",
        "\\b",
        "\\x41",
        "[a--b]",
        "[a||b]",
        "[\\d-z]",
        "a{2}",
    ],
)
def test_near_simple_shapes_keep_their_own_reading(pattern: str) -> None:
    # Each differs from the simple shape in one place the piece-by-piece reading judges.
    try:
        direct: Translation | str = translate(pattern)
    except OutsideSubset as outside:
        direct = str(outside)
    assert direct == piece_by_piece(pattern), pattern


@pytest.mark.parametrize(
    ("pattern", "python", "end_sensitive"),
    [("a$", "a\\Z", False), ("^[a-z]+\\.com$", "^[a-z]+\\.com\\Z", True), ("a\\$", "a\\$", False)],
)
def test_a_final_dollar_is_the_end_of_the_text(
    pattern: str, python: str, end_sensitive: bool
) -> None:
    # Python's `$` also matches before a final newline, `\Z` does not. With a repetition
    # before it, a text ending in a newline still separates the engines, which
    # `Translation.end_sensitive` flags.
    assert translate(pattern) == Translation(python, False, False, end_sensitive)
