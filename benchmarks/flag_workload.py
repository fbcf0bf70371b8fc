"""A mixed flag workload for the engine benchmarks: twelve kinds of flags, every person
property present, so every flag resolves locally on both sides.

The kinds: percentage rollouts; exact text (one value and a list); text search (icontains,
starts/ends with); regular expressions; numeric comparisons; presence (is_set /
is_not_set); dates (relative and absolute); semantic versions; multivariate experiments
with payloads; several conditions with a variant override; cohorts with nested AND/OR
groups and negation; and flag dependencies, chained up to three deep.
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = ["KINDS", "document", "people"]

KINDS = (
    "rollout",
    "exact",
    "exact_list",
    "text",
    "regex",
    "numeric",
    "presence",
    "date",
    "semver",
    "multivariate",
    "multi_condition",
    "cohort",
    "dependency",
)
PLANS = ["free", "starter", "pro", "enterprise"]
COUNTRIES = ["US", "GB", "DE", "FR", "NZ", "BR", "IN", "JP"]
DOMAINS = ["acme.com", "globex.com", "initech.io", "gmail.com", "example.org"]


def _prop(key: str, value: Any, operator: str = "exact", **extra: Any) -> dict[str, Any]:
    return {"key": key, "value": value, "operator": operator, "type": "person", **extra}


def _cond(*props: dict[str, Any], rollout: float | None = 100, **extra: Any) -> dict[str, Any]:
    return {"properties": list(props), "rollout_percentage": rollout, **extra}


def _flag(key: str, index: int, groups: list[dict[str, Any]], **filters: Any) -> dict[str, Any]:
    return {
        "id": index + 1,
        "key": key,
        "active": True,
        "version": 3,
        "filters": {"groups": groups, **filters},
    }


def _conditions(kind: str, rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The release conditions (and extra filters) of one flag of a kind."""
    plan, country, domain = rng.choice(PLANS), rng.choice(COUNTRIES), rng.choice(DOMAINS)
    extra: dict[str, Any] = {}
    if kind == "rollout":
        groups = [_cond(rollout=rng.choice([5, 20, 50, 80]))]
    elif kind == "exact":
        groups = [_cond(_prop("plan", plan), rollout=rng.choice([100, 50]))]
    elif kind == "exact_list":
        groups = [_cond(_prop("country", rng.sample(COUNTRIES, 3)), _prop("plan", plan, "is_not"))]
    elif kind == "text":
        op = rng.choice(["icontains", "ends_with", "starts_with", "not_icontains"])
        needle = {"starts_with": "user"}.get(op, domain)
        groups = [_cond(_prop("email", needle, op))]
    elif kind == "regex":
        groups = [_cond(_prop("email", rf"^[a-z]+\d*@{domain.split('.')[0]}\.", "regex"))]
    elif kind == "numeric":
        groups = [
            _cond(
                _prop("age", rng.randint(18, 60), "gt"), _prop("seats", rng.randint(5, 50), "lte")
            )
        ]
    elif kind == "presence":
        groups = [_cond(_prop("email", None, "is_set"), _prop("seats", None, "is_set"))]
    elif kind == "date":
        value = rng.choice(["-30d", "-12m", "2025-01-01"])
        groups = [_cond(_prop("signed_up", value, rng.choice(["is_date_after", "is_date_before"])))]
    elif kind == "semver":
        op = rng.choice(["semver_gte", "semver_lt", "semver_caret", "semver_tilde"])
        groups = [_cond(_prop("app_version", rng.choice(["1.4.0", "2.0.0", "1.9.3"]), op))]
    elif kind == "multivariate":
        groups = [_cond(_prop("plan", PLANS[1:], "exact"), rollout=rng.choice([100, 60]))]
        names = ["control", "test", "test-b"]
        extra["multivariate"] = {
            "variants": [
                {"key": "control", "rollout_percentage": 34},
                {"key": "test", "rollout_percentage": 33},
                {"key": "test-b", "rollout_percentage": 33},
            ]
        }
        extra["payloads"] = {n: json.dumps({"variant": n, "layout": [1, 2, 3]}) for n in names}
    else:  # multi_condition
        groups = [
            _cond(_prop("email", "@" + domain, "icontains"), variant="test"),
            _cond(_prop("country", country), _prop("age", 30, "gte"), rollout=40),
            _cond(_prop("plan", "enterprise"), variant="control"),
        ]
        extra["multivariate"] = {
            "variants": [
                {"key": "control", "rollout_percentage": 50},
                {"key": "test", "rollout_percentage": 50},
            ]
        }
    return groups, extra


def _cohort(rng: random.Random) -> dict[str, Any]:
    """A cohort of nested AND/OR groups, with a negated entry."""
    plan, country = rng.choice(PLANS), rng.choice(COUNTRIES)
    return {
        "type": "OR",
        "values": [
            {
                "type": "AND",
                "values": [
                    _prop("plan", plan),
                    _prop("age", rng.randint(20, 50), "gt"),
                    _prop("country", "FR", negation=True),
                ],
            },
            {
                "type": "OR",
                "values": [
                    _prop("country", country),
                    _prop("email", rng.choice(DOMAINS), "icontains"),
                ],
            },
        ],
    }


def document(count: int, kinds: tuple[str, ...] = KINDS, seed: int = 7) -> dict[str, Any]:
    """A definitions document of `count` flags cycling through `kinds`."""
    rng = random.Random(seed)
    flags: list[dict[str, Any]] = []
    chains: dict[str, list[str]] = {}
    cohorts: dict[str, Any] = {}
    for index in range(count):
        kind = kinds[index % len(kinds)]
        key = f"{kind}-{index}"
        if kind == "cohort":
            cohort_id = str(len(cohorts) + 1)
            cohorts[cohort_id] = _cohort(rng)
            operator = "not_in" if index % 5 == 0 else "in"
            cohort = {"key": "id", "type": "cohort", "value": int(cohort_id), "operator": operator}
            groups, extra = [_cond(cohort, rollout=rng.choice([100, 70]))], {}
        elif kind == "dependency":
            # A parent among the flags so far, preferring another dependency (chains).
            parents = [f["key"] for f in flags if f["key"] in chains] or [f["key"] for f in flags]
            if not parents:
                groups, extra = _conditions("rollout", rng)
            else:
                parent = rng.choice(parents[-6:])
                chain = [*chains.get(parent, []), parent]
                if len(chain) > 3:
                    parent = rng.choice([f["key"] for f in flags if f["key"] not in chains])
                    chain = [parent]
                dependency = {
                    "key": parent,
                    "type": "flag",
                    "value": True,
                    "operator": "flag_evaluates_to",
                    "dependency_chain": chain,
                }
                chains[key] = chain
                groups, extra = [_cond(dependency, _prop("plan", "free", "is_not"))], {}
        else:
            groups, extra = _conditions(kind, rng)
        flags.append(_flag(key, index, groups, **extra))
    return {"flags": flags, "group_type_mapping": {}, "cohorts": cohorts}


def people(count: int, seed: int = 11) -> list[tuple[str, dict[str, Any]]]:
    """(distinct id, person properties) pairs with every property the flags read."""
    rng = random.Random(seed)
    found = []
    for index in range(count):
        user = f"user{rng.randint(1, 99)}"
        found.append(
            (
                f"person-{index}-{rng.getrandbits(32):08x}",
                {
                    "email": f"{user}@{rng.choice(DOMAINS)}",
                    "plan": rng.choice(PLANS),
                    "country": rng.choice(COUNTRIES),
                    "age": rng.randint(16, 70),
                    "seats": rng.randint(1, 80),
                    "signed_up": f"202{rng.randint(3, 6)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                    "app_version": rng.choice(["1.2.0", "1.4.2", "1.9.9", "2.0.1", "2.3.0"]),
                },
            )
        )
    return found
