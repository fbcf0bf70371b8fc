"""Definitions whose `group_type_mapping` or `cohorts` is not a JSON object, and tables set on
a client after a download, in hogkit and posthog 7.91.1 side by side.

posthog-python accepts such a document, whether downloaded, read from a definitions cache
provider or set on the client: the definitions are in force, the two attributes read back
as the document holds them, and every flag that needs no group type (or no cohort) is
decided locally, the others by the server. hogkit refused the whole document: a download
left no definitions in force, and a cached one was downloaded again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from httpserver import Reply
from test_compat_module_differential import ServingProvider
from twin import DEFS, FLAGS, Twin, definitions, flag, flags_response, person_rule, record

GROUP_FLAG = flag("grouped", 2, aggregation_group_type_index=0)
COHORT_FLAG = flag(
    "in-cohort", 3, groups=[{"properties": [{"key": "id", "type": "cohort", "value": 1}]}]
)
FLAGS_DEFINED = [flag("plain"), GROUP_FLAG, COHORT_FLAG]
USABLE = {
    "group_type_mapping": {"0": "company"},
    "cohorts": {"1": {"type": "AND", "values": [person_rule("plan", ["pro"])]}},
}
REMOTE = Reply.json(
    flags_response(*(record(f["key"], "remote", fid=f["id"]) for f in FLAGS_DEFINED))
)

# What a document may hold in place of an object: text, numbers, lists, null, a boolean,
# empty or not (posthog-python reads an empty one as no table at all).
ODD_TABLES = {
    "a list": [1],
    "an empty list": [],
    "text": "x",
    "empty text": "",
    "a number": 5,
    "zero": 0,
    "null": None,
    "true": True,
}
CASES = [(name, odd) for name in USABLE for odd in ODD_TABLES.values()]
CASE_IDS = [f"{name} {label}" for name in USABLE for label in ODD_TABLES]


def document(name: str, odd: Any) -> dict[str, Any]:
    return {"flags": FLAGS_DEFINED, **USABLE, name: odd}


def reads(client: Any, person: dict[str, Any] | None = None) -> dict[str, Any]:
    """What an application sees of the definitions in force, for a person with `person`
    properties."""
    asked: dict[str, Any] = {"groups": {"company": "acme"}, "person_properties": person}
    return {
        "definitions": [f["key"] for f in client.feature_flag_definitions() or []],
        "group_type_mapping": client.group_type_mapping,
        "cohorts": client.cohorts,
        "all": client.get_all_flags("user-1", **asked),
        "local": client.get_all_flags("user-1", only_evaluate_locally=True, **asked),
        "each": [client.get_feature_flag(f["key"], "user-1", **asked) for f in FLAGS_DEFINED],
    }


def compare(
    twin: Twin, prepare: Callable[[Any], None], person: dict[str, Any] | None = None
) -> None:
    """`prepare` then `reads` on both clients: the same answers, downloads and `/flags`
    requests."""
    twin.run(prepare)
    ref, kit = twin.run(lambda client: reads(client, person))
    assert kit == ref
    for path in (DEFS, FLAGS):
        assert len(twin.requests(path, "kit")) == len(twin.requests(path, "ref"))


@pytest.mark.parametrize(("name", "odd"), CASES, ids=CASE_IDS)
def test_a_downloaded_document_is_in_force(name: str, odd: Any) -> None:
    with Twin(document(name, odd), remote=REMOTE) as twin:
        compare(twin, lambda client: client.load_feature_flags())


@pytest.mark.parametrize(("name", "odd"), CASES, ids=CASE_IDS)
def test_a_cached_document_is_in_force_without_a_download(name: str, odd: Any) -> None:
    provider = ServingProvider(document(name, odd))
    with Twin(
        definitions(flag("downloaded")), remote=REMOTE, flag_definition_cache_provider=provider
    ) as twin:
        compare(twin, lambda client: client.load_feature_flags())
        assert len(twin.requests(DEFS, "ref")) == 0


@pytest.mark.parametrize(("name", "odd"), CASES, ids=CASE_IDS)
def test_a_table_set_on_the_client_is_in_force(name: str, odd: Any) -> None:
    def set_by_hand(client: Any) -> None:
        client.feature_flags = FLAGS_DEFINED
        client.group_type_mapping = USABLE["group_type_mapping"]
        client.cohorts = USABLE["cohorts"]
        setattr(client, name, odd)

    with Twin(remote=REMOTE, local=False) as twin:
        compare(twin, set_by_hand)


# Tables an application sets after a download: another group type at index 0, and cohort 1
# as the free plan, so a free person in group "acme" gets other values from them.
OTHER_TABLES = {
    "group_type_mapping": {"0": "team"},
    "cohorts": {"1": {"type": "AND", "values": [person_rule("plan", ["free"])]}},
}
FREE = {"plan": "free"}


@pytest.mark.parametrize("name", sorted(OTHER_TABLES))
def test_a_table_set_after_a_download_is_in_force_until_the_next(name: str) -> None:
    """posthog-python evaluates the downloaded flags with the table set; the next download
    overwrites it. hogkit read the table back but kept evaluating the downloaded one."""
    with Twin(definitions(*FLAGS_DEFINED, **USABLE), remote=REMOTE) as twin:
        twin.run(lambda client: client.load_feature_flags())
        compare(twin, lambda client: setattr(client, name, OTHER_TABLES[name]), FREE)
        compare(twin, lambda client: client.load_feature_flags(), FREE)


@pytest.mark.parametrize("name", sorted(OTHER_TABLES))
def test_flags_set_before_a_download_stay_replaced_when_a_table_is_set(name: str) -> None:
    """A download replaces flags set on the client; a table set after it must not bring
    them back (hogkit put them in force again with the table)."""

    def set_flags_then_download(client: Any) -> None:
        client.feature_flags = [flag("set-by-hand", 9)]
        client.load_feature_flags()

    with Twin(definitions(*FLAGS_DEFINED, **USABLE), remote=REMOTE) as twin:
        twin.run(set_flags_then_download)
        compare(twin, lambda client: setattr(client, name, OTHER_TABLES[name]), FREE)
        ref, kit = twin.both("get_feature_flag", "set-by-hand", "user-1")
        assert kit == ref


def test_flags_set_again_after_a_download_take_its_tables() -> None:
    """Flags set before any download, a download, flags set again: the group types and
    cohorts in force are the download's, as posthog-python's download overwrote its
    attributes. hogkit kept the (empty) tables it had noted when the first flags were set."""

    def set_download_set(client: Any) -> None:
        client.feature_flags = [flag("set-by-hand", 9)]
        client.load_feature_flags()
        client.feature_flags = FLAGS_DEFINED

    with Twin(definitions(flag("downloaded"), **USABLE), remote=REMOTE) as twin:
        compare(twin, set_download_set, {"plan": "pro"})
