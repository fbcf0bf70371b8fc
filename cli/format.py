"""How the command line shows flags to a person: tables, bars and explanations.

Pure functions from values to text, so every output can be tested without running a command.
Conditions are numbered from 0, as the engine's `condition_index` and its reason details
number them, so the table, `--explain` and `--json` always agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hogkit.core import FlagResult, Problem, Reason, Snapshot, Unresolved

__all__ = [
    "BAR_WIDTH",
    "PAYLOAD_WIDTH",
    "compact_json",
    "condition_label",
    "counts_json",
    "describe_condition",
    "describe_filter",
    "describe_reason",
    "describe_unresolved",
    "evaluation_json",
    "flag_conditions",
    "format_payload",
    "format_value",
    "missing_properties",
    "outcome_label",
    "outcome_of",
    "problems_json",
    "reason_json",
    "render_counts",
    "render_evaluation",
    "render_explanation",
    "render_problems",
    "render_table",
    "summary_line",
    "text_bar",
]

PAYLOAD_WIDTH = 44
BAR_WIDTH = 30

_REASON_TEXT = {
    "condition_match": "matched",
    "out_of_rollout": "outside the rollout",
    "no_condition_match": "no condition matched",
    "no_conditions": "no release conditions",
    "flag_inactive": "flag is switched off",
    "holdout": "in the holdout group",
    "feature_enrollment": "early-access enrollment",
    "early_exit": "stopped early (outside the rollout)",
    "group_not_provided": "group not provided",
    "condition_skipped": "condition skipped",
}

_UNRESOLVED_HINT = {
    Unresolved.EXPERIENCE_CONTINUITY: "experience continuity is on; only the server can keep it",
    Unresolved.UNSUPPORTED_DEFINITION: "the definition uses something only the server can evaluate",
    Unresolved.UNRESOLVED_DEPENDENCY: "a flag it depends on could not be decided locally",
    Unresolved.MISSING_CONTEXT: "a property, group or device id it needs was not given",
}


# ---------------------------------------------------------------------------- values


def format_value(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def compact_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)


def format_payload(payload: object, width: int = PAYLOAD_WIDTH) -> str:
    if payload is None:
        return ""
    text = compact_json(payload)
    return text if len(text) <= width else text[: width - 3] + "..."


def rule_lines(result: FlagResult) -> list[str]:
    """`--explain` lines for what a `/flags?v=4` record says decided the flag."""
    lines: list[str] = []
    if result.config_version is not None:
        lines.append(f"  config version: {result.config_version}")
    if result.rule_id is not None or result.rule_type is not None:
        lines.append(f"  rule: {result.rule_type or '?'} {result.rule_id or '?'}")
    if result.experiment_id is not None or result.variant_key is not None:
        arm = f", arm {result.variant_key!r}" if result.variant_key is not None else ""
        lines.append(f"  experiment: {result.experiment_id}{arm}")
    return lines


def rule_json(result: FlagResult) -> dict[str, Any]:
    """The `/flags?v=4` rule fields of a result, only those it has."""
    fields = {
        "config_version": result.config_version,
        "rule_id": result.rule_id,
        "rule_type": result.rule_type,
        "experiment_id": result.experiment_id,
        "variant_key": result.variant_key,
    }
    return {name: value for name, value in fields.items() if value is not None}


def condition_label(index: int | None) -> str:
    return "" if index is None else f"condition {index}"


def describe_reason(reason: Reason) -> str:
    """A few words for the table's reason column."""
    text = _REASON_TEXT.get(reason.kind, reason.kind.replace("_", " "))
    label = condition_label(reason.condition_index)
    if label and reason.kind in ("condition_match", "out_of_rollout", "early_exit"):
        text = f"{text} {label}" if reason.kind == "condition_match" else f"{text} ({label})"
    if reason.property:
        text += f"; {reason.property}"
    return text


def describe_unresolved(reason: Unresolved) -> str:
    return f"needs the server: {reason.value}"


def reason_json(reason: Reason) -> dict[str, Any]:
    return {
        "kind": reason.kind,
        "condition_index": reason.condition_index,
        "property": reason.property,
        "detail": reason.detail,
    }


def evaluation_json(snapshot: Snapshot) -> dict[str, Any]:
    """The `--json` document: what the core decided, field for field."""
    return {
        "distinct_id": snapshot.distinct_id,
        "flags": {
            key: {
                "value": result.value,
                "payload": result.payload,
                "reason": reason_json(result.reason),
                **rule_json(result),
            }
            for key, result in snapshot.results.items()
        },
        "unresolved": {key: reason.value for key, reason in snapshot.unresolved.items()},
    }


# ---------------------------------------------------------------------------- tables


def render_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], right: frozenset[int] = frozenset()
) -> list[str]:
    """Columns padded to their widest cell; `right` holds the indexes of numeric columns."""
    materialised = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in materialised) for i in range(len(headers))]
    lines = []
    for row in materialised:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def render_evaluation(snapshot: Snapshot, order: Sequence[str]) -> str:
    """The default `evaluate` output: one row per flag, in definition order."""
    rows = []
    for key in order:
        if key in snapshot.results:
            result = snapshot.results[key]
            rows.append(
                [
                    key,
                    format_value(result.value),
                    format_payload(result.payload),
                    describe_reason(result.reason),
                ]
            )
        elif key in snapshot.unresolved:
            rows.append([key, "-", "", describe_unresolved(snapshot.unresolved[key])])
    lines = render_table(["FLAG", "VALUE", "PAYLOAD", "REASON"], rows)
    lines.append("")
    lines.append(summary_line(len(snapshot.results), len(snapshot.unresolved)))
    return "\n".join(lines) + "\n"


def summary_line(decided: int, unresolved: int) -> str:
    total = decided + unresolved
    text = f"{total} flag{'s' if total != 1 else ''}: {decided} decided locally"
    if unresolved:
        text += (
            f", {unresolved} need{'s' if unresolved == 1 else ''} the server (--explain says why)"
        )
    return text


# ---------------------------------------------------------------------------- bars

_EIGHTHS = " ▏▎▍▌▋▊▉"


def text_bar(fraction: float, width: int = BAR_WIDTH, *, ascii_only: bool = False) -> str:
    """A horizontal bar `width` cells long at 100%, drawn in eighths of a cell."""
    fraction = min(max(fraction, 0.0), 1.0)
    if ascii_only:
        return "#" * round(fraction * width)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


def outcome_of(snapshot: Snapshot, key: str) -> tuple[bool, bool | str] | None:
    result = snapshot.results.get(key)
    if result is not None:
        return (True, result.value)
    reason = snapshot.unresolved.get(key)
    if reason is not None:
        return (False, reason.value)
    return None


def outcome_label(outcome: tuple[bool, bool | str]) -> str:
    resolved, value = outcome
    return format_value(value) if resolved else f"(server: {value})"


def render_counts(
    counts: Mapping[str, Mapping[tuple[bool, bool | str], int]],
    people: int,
    *,
    ascii_only: bool = False,
) -> str:
    """The `--people` output: per flag, how many people got each value, largest first."""
    rows: list[list[str]] = []
    for key, by_outcome in counts.items():
        labelled = sorted(
            ((outcome_label(outcome), count) for outcome, count in by_outcome.items()),
            key=lambda item: (-item[1], item[0]),
        )
        for position, (label, count) in enumerate(labelled):
            share = count / people if people else 0.0
            rows.append(
                [
                    key if position == 0 else "",
                    label,
                    f"{count:,}",
                    f"{share:.1%}",
                    text_bar(share, ascii_only=ascii_only),
                ]
            )
    lines = render_table(["FLAG", "VALUE", "PEOPLE", "SHARE", ""], rows, frozenset({2, 3}))
    lines.append("")
    lines.append(f"{people:,} {'person' if people == 1 else 'people'} evaluated")
    return "\n".join(lines) + "\n"


def counts_json(
    counts: Mapping[str, Mapping[tuple[bool, bool | str], int]], people: int
) -> dict[str, Any]:
    """`--people --json`: values keep their JSON types, so a variant named "true" stays apart."""
    flags: dict[str, Any] = {}
    for key, by_outcome in counts.items():
        values = [
            {"value": value, "count": count}
            for (resolved, value), count in by_outcome.items()
            if resolved
        ]
        unresolved = {
            str(value): count for (resolved, value), count in by_outcome.items() if not resolved
        }
        values.sort(key=lambda item: -int(item["count"]))
        flags[key] = {"values": values, "unresolved": unresolved}
    return {"people": people, "flags": flags}


# ---------------------------------------------------------------------------- explanations


def describe_filter(raw: object, cohorts: Mapping[str, Any]) -> str:
    """A property filter as a person would read it: `plan exact ["pro","enterprise"]`."""
    if not isinstance(raw, Mapping):
        return f"unreadable filter {compact_json(raw)}"
    kind = raw.get("type")
    value = raw.get("value")
    operator = raw.get("operator") or "exact"
    if kind == "cohort":
        negated = "not in" if operator == "not_in" else "in"
        known = "" if str(value) in cohorts else " (static or unknown: server only)"
        return f"{negated} cohort {compact_json(value)}{known}"
    if kind == "flag":
        return f"flag {raw.get('key')} evaluates to {compact_json(value)}"
    return f"{raw.get('key')} {operator} {compact_json(value)}"


def describe_condition(index: int, condition: object, cohorts: Mapping[str, Any]) -> str:
    if not isinstance(condition, Mapping):
        return f"condition {index}: unreadable condition"
    filters = condition.get("properties") or []
    parts = [describe_filter(f, cohorts) for f in filters] if isinstance(filters, list) else []
    text = " and ".join(parts) if parts else "everyone"
    rollout = condition.get("rollout_percentage")
    text += f"; rollout {100 if rollout is None else rollout}%"
    if condition.get("variant"):
        text += f"; variant {condition['variant']}"
    return f"condition {index}: {text}"


def flag_conditions(document: Mapping[str, Any], key: str) -> list[str]:
    """The lines describing `key`'s release conditions in the raw definitions."""
    flags = document.get("flags")
    cohorts = document.get("cohorts")
    cohorts = cohorts if isinstance(cohorts, Mapping) else {}
    if not isinstance(flags, list):
        return []
    for flag in flags:
        if isinstance(flag, Mapping) and flag.get("key") == key:
            filters = flag.get("filters")
            groups = filters.get("groups") if isinstance(filters, Mapping) else None
            if not isinstance(groups, list):
                return []
            return [describe_condition(i, c, cohorts) for i, c in enumerate(groups)]
    return []


def missing_properties(
    document: Mapping[str, Any],
    key: str,
    person: Mapping[str, object],
    group_properties: Mapping[str, Mapping[str, object]],
) -> list[str]:
    """Property keys `key`'s conditions read that were not given, in first-use order.

    Group filters count as given when any group's properties hold the key: naming the
    exact group type would repeat the engine's work for a hint.
    """
    flags = document.get("flags")
    if not isinstance(flags, list):
        return []
    group_keys = {name for props in group_properties.values() for name in props}
    missing: list[str] = []
    for flag in flags:
        if not (isinstance(flag, Mapping) and flag.get("key") == key):
            continue
        filters = flag.get("filters")
        groups = filters.get("groups") if isinstance(filters, Mapping) else None
        for condition in groups if isinstance(groups, list) else []:
            props = condition.get("properties") if isinstance(condition, Mapping) else None
            for raw in props if isinstance(props, list) else []:
                if not isinstance(raw, Mapping) or raw.get("type") in ("cohort", "flag"):
                    continue
                name = raw.get("key")
                given = group_keys if raw.get("type") == "group" else person
                if isinstance(name, str) and name not in given and name not in missing:
                    missing.append(name)
    return missing


def render_explanation(
    snapshot: Snapshot,
    order: Sequence[str],
    document: Mapping[str, Any],
    given: tuple[Mapping[str, object], Mapping[str, Mapping[str, object]]],
    problems: Mapping[str, Sequence[Problem]],
) -> str:
    """`--explain`: each flag's value, the core's reason and the condition it points at.

    `given` is the (person properties, group properties) passed, to name what was missing;
    `problems` are the static problems, to say why an unresolved flag needs the server.
    """
    blocks = []
    for key in order:
        lines: list[str] = []
        marked: int | None = None
        if key in snapshot.results:
            result = snapshot.results[key]
            reason = result.reason
            lines.append(f"{key} = {format_value(result.value)}   [{reason.kind}]")
            lines.append(f"  {reason.detail or describe_reason(reason)}")
            if reason.property:
                lines.append(f"  decided by: {reason.property}")
            lines.extend(rule_lines(result))
            if result.payload is not None:
                lines.append(f"  payload: {compact_json(result.payload)}")
            marked = reason.condition_index
        elif key in snapshot.unresolved:
            unresolved = snapshot.unresolved[key]
            lines.append(f"{key} = ?   [{describe_unresolved(unresolved)}]")
            found = [p.message for p in problems.get(key, ()) if p.reason is unresolved]
            lines.extend(f"  {message}" for message in found)
            if not found:
                lines.append(f"  {_UNRESOLVED_HINT.get(unresolved, unresolved.value)}")
            if unresolved is Unresolved.MISSING_CONTEXT:
                absent = missing_properties(document, key, given[0], given[1])
                if absent:
                    lines.append(f"  not given: {', '.join(absent)}")
        else:
            continue
        conditions = flag_conditions(document, key)
        if conditions:
            lines.append("  conditions:")
            for index, text in enumerate(conditions):
                pointer = "   <-" if index == marked else ""
                lines.append(f"    {text}{pointer}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# ---------------------------------------------------------------------------- check


def render_problems(problems: Mapping[str, Sequence[Problem]], total: int, label: str) -> str:
    """`hogkit check`: every flag that needs the server, with each reason found."""
    if not problems:
        return f"All {total} flags in {label} can be evaluated locally.\n"
    count = len(problems)
    lines = [
        f"{count} of {total} flags in {label} cannot be evaluated locally; "
        "each costs a request to PostHog per evaluation:",
        "",
    ]
    rows = [
        [key if position == 0 else "", problem.reason.value, problem.message]
        for key, found in problems.items()
        for position, problem in enumerate(found)
    ]
    lines.extend(render_table(["FLAG", "REASON", "DETAIL"], rows))
    return "\n".join(lines) + "\n"


def problems_json(problems: Mapping[str, Sequence[Problem]], total: int) -> dict[str, Any]:
    return {
        "flags": total,
        "problems": {
            key: [{"reason": p.reason.value, "message": p.message} for p in found]
            for key, found in problems.items()
        },
    }
