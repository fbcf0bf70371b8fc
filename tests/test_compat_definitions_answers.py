"""A definitions download answered with something that is not a definitions document, side by
side with posthog 7.91.1: after a good download, a 200 answer that is no object with a list of
flags (a proxy's `{}` or error object, a bare list of flags, JSON that is no object) keeps
the definitions in force, in both SDKs; hogkit put the answer in force instead, an empty set
that sent every flag to the server.

Left out on purpose:

- A document with its flags but without `group_type_mapping` or `cohorts` (or with neither,
  and null flags): posthog-python fails on it and keeps the previous definitions; hogkit
  reads a missing table as empty and puts the document in force, as it always has for a
  document written by hand or served by a test server.
- A document whose `flags` is a JSON value other than a list of flag objects (text, an
  object, a list of text, `0`): posthog-python puts that value in force as its
  `feature_flags` (what `feature_flag_definitions()` then returns) while its reads keep
  evaluating the previous flags; hogkit keeps the previous definitions whole, as it does
  for a cache provider's answer of that shape.
- A first download that fails this way: posthog-python then downloads again on every flag
  read until one succeeds, where hogkit reads from the server until the next poll (the
  poller's first-load rule).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from httpserver import Reply
from twin import DEFS, Twin, definitions, flag, flags_response, person_rule, record

SPLIT = flag(
    "split", 1, multivariate={"variants": [{"key": k, "rollout_percentage": 50} for k in "ab"]}
)
PRO = flag("pro", 2, groups=[{"properties": [person_rule("plan", ["pro"])]}])
GOOD = definitions(SPLIT, PRO, group_type_mapping={"0": "company"})
NEXT = definitions(PRO)
# The server's answer differs from what the definitions decide, so a read shows its source.
REMOTE = Reply.json(flags_response(record("split", "b"), record("pro", False)))

NOT_DOCUMENTS: dict[str, Any] = {
    "empty object": {},
    "error object": {"type": "server_error", "detail": "try again"},
    "tables without flags": {"group_type_mapping": {}, "cohorts": {}},
    "a list of flags": [PRO],
    "text": "definitions",
    "null": None,
}


def reads(client: Any) -> str:
    """What an application sees: two reads, the bulk local answer and the definitions."""
    seen = [
        client.get_feature_flag("split", "user-1"),
        client.get_feature_flag("pro", "user-1", person_properties={"plan": "pro"}),
        client.get_all_flags(
            "user-1", person_properties={"plan": "pro"}, only_evaluate_locally=True
        ),
        client.feature_flag_definitions(),
    ]
    return json.dumps(seen, sort_keys=True)


@pytest.mark.parametrize("answer", NOT_DOCUMENTS.values(), ids=NOT_DOCUMENTS.keys())
def test_an_answer_that_is_no_document_keeps_the_definitions_in_force(answer: Any) -> None:
    replies = [Reply.json(GOOD), Reply.json(answer)]
    with Twin(remote=[REMOTE], definition_replies=replies, definitions=NEXT) as twin:
        twin.run(lambda client: client.load_feature_flags())
        twin.run(lambda client: client.load_feature_flags())
        ref, kit = twin.run(reads)
        assert kit == ref
        assert json.loads(kit)[3] == GOOD["flags"]  # the first download, still in force
        # The next good download replaces them in both.
        twin.run(lambda client: client.load_feature_flags())
        ref, kit = twin.run(reads)
        assert kit == ref
        assert json.loads(kit)[3] == NEXT["flags"]
        assert twin.kit_events() == twin.ref_events()
        assert len(twin.requests(DEFS, "kit")) == len(twin.requests(DEFS, "ref")) == 3
