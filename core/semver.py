"""Semantic versions as PostHog's flag engines read them: (major, minor, patch) only.

A leading `v` and surrounding whitespace are ignored, everything from the first `-`
(pre-release) or `+` (build) is dropped, missing minor/patch count as 0 and extra
components are ignored. Each component must be digits without a leading zero. Ranges are
half-open `[low, high)`.
"""

from __future__ import annotations

__all__ = ["Version", "parse_version", "version_range"]

Version = tuple[int, int, int]


def _component(part: str) -> int | None:
    if not part.isdigit() or (len(part) > 1 and part[0] == "0"):
        return None
    try:
        return int(part)
    except ValueError:
        # isdigit() also admits digits int() refuses, such as superscripts.
        return None


def _text(value: object) -> str:
    if type(value) is str:
        return value
    text = str(value)
    return text if type(text) is str else str.__str__(text)


def parse_version(value: object) -> Version | None:
    """The (major, minor, patch) a value stands for, or None when it is not a version."""
    try:
        return _parse(value)
    except Exception:
        # A value whose own `__str__` (or a str subclass's methods) fails is no version.
        return None


def _parse(value: object) -> Version | None:
    if type(value) is str and value.isascii():
        parts = value.split(".")
        if len(parts) == 3 and len(value) < 40:
            # The usual "1.10.0": plain ASCII digits, nothing to strip or cut.
            major_text, minor_text, patch_text = parts
            if (
                major_text.isdigit()
                and minor_text.isdigit()
                and patch_text.isdigit()
                and (major_text[0] != "0" or len(major_text) == 1)
                and (minor_text[0] != "0" or len(minor_text) == 1)
                and (patch_text[0] != "0" or len(patch_text) == 1)
            ):
                return (int(major_text), int(minor_text), int(patch_text))
    text = _text(value).strip()
    if text[:1] in ("v", "V"):
        text = text.lstrip("vV")
    if "-" in text:
        text = text[: text.index("-")]
    if "+" in text:
        text = text[: text.index("+")]
    parts = text.split(".", 3)
    count = len(parts)
    if count >= 3 and parts[2]:
        patch = _component(parts[2])
        if patch is None:
            return None
    else:
        patch = 0
    if count >= 2 and parts[1]:
        minor = _component(parts[1])
        if minor is None:
            return None
    else:
        minor = 0
    major = _component(parts[0])
    if major is None:
        return None
    return (major, minor, patch)


def _wildcard(value: object) -> tuple[Version, Version] | None:
    """Every version sharing the components given before the wildcard: from those components
    padded with zeros, up to (not including) the last given one plus one."""
    text = _text(value)
    parts = [p for p in text.strip().lstrip("vV").replace("*", "").rstrip(".").split(".") if p]
    given: list[int] = []
    for part in parts[:3]:
        number = _component(part)
        if number is None:
            return None
        given.append(number)
    if not given:
        return None
    low = [*given, 0, 0]
    high = [*given[:-1], given[-1] + 1, 0, 0]
    return (low[0], low[1], low[2]), (high[0], high[1], high[2])


def version_range(operator: str, value: object) -> tuple[Version, Version] | None:
    """`[low, high)` for semver_tilde, semver_caret or semver_wildcard; None if unusable."""
    if operator == "semver_wildcard":
        return _wildcard(value)
    low = parse_version(value)
    if low is None:
        return None
    major, minor, patch = low
    if operator == "semver_tilde":
        return low, (major, minor + 1, 0)
    if major > 0:
        return low, (major + 1, 0, 0)
    if minor > 0:
        return low, (0, minor + 1, 0)
    return low, (0, 0, patch + 1)
