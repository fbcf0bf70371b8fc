"""Client-level differential: hogkit's Client against posthog 7.91.1's, over one real server.

Where the engine differential (`test_differential.py`) compares flag values, this one
compares what an application sees through the public Client when local results meet the
server's `/flags` answer: which flags each SDK asks the server for (the `/flags` bodies),
how the answers merge, what every read returns, and the events both SDKs send
(`$feature_flag_called` with its error, reason, request id, evaluation time, id, version and
payload, and its deduplication across reads).

Each example draws a definitions document (or none: no local evaluation; or a download that
fails; among its flags some whose rollout is not a number, which posthog-python fails on
and answers from the server instead), now and then downloaded again between reads
(`load_feature_flags`) to other definitions, a 304, a server error, a quota limit, a
refused key, or an answer that is no definitions document (see
`client_strategies.reload_replies`, which also says why a first download that fails is
never followed by one that succeeds), a script of `/flags` replies (records in both shapes
for some keys, failed ones, experiment attribution, request-wide errors, quota limits, the
oldest response shape, server errors, unreadable bodies, resets, rarely a timeout), client
options (super properties, GeoIP, a fallback cache, a historical import, gzip, a background
sender with batches of one, a few or all events) and a sequence of reads: `evaluate_flags`
and its snapshot's reads and captures, the older `get_feature_flag`, `feature_enabled`,
`get_feature_flag_payload`, `get_feature_flag_result`, `get_all_flags` and
`get_all_flags_and_payloads`, `capture(send_feature_flags=...)` (True, False or options,
`should_send` among them, with the caller's properties, `$feature/...` names among them,
and GeoIP choice), the getters that hand back the server's answer (`get_flags_decision`,
compared record by record with its reason and metadata; `get_feature_variants`,
`get_feature_payloads`, `get_feature_flags_and_payloads`), arguments by keyword or by
position, and `get_remote_config_payload` against a script of its own (answers of every
JSON kind and none, 401, 404, 500, resets). Both SDKs run the same reads against the same
loopback server, each with a fresh client, and must agree on all three observations (the
`/batch/` bodies' `historical_migration` with the events).

What is relaxed, and why (nothing else is):

- Events are compared without `uuid`, `timestamp`, `$lib` and `$lib_version` (random,
  the clock, and the SDK's name), and a personless event's distinct id, a fresh random
  UUID in both SDKs, is checked to be one and then compared as a marker.
- `/flags` bodies are compared without `api_key` and `sent_at` (which SDK, and when), and
  decoded: hogkit compresses them by default (README, "What differs on purpose").
- Both clients run with `feature_flags_request_max_retries=0`: a retry costs posthog a
  0.3 s sleep, and retries are compared by tests/test_compat_dropin.py.
- Property values are JSON: values JSON cannot hold are sent as text by hogkit and as null
  by posthog, on purpose (README, "What differs on purpose").
- Variant shares that are not numbers, and holdout percentages no number can be read
  from, are not drawn: posthog-python reads some loosely and fails on the others, where
  hogkit sends the flag to the server as `unsupported_definition` (README, "What differs on
  purpose"); an `evaluate_flags` snapshot the server did not answer that flag for then
  lists it unresolved in hogkit and not at all in posthog-python.
- Documents in which a flag reaches cohorts including each other, or a parent whose
  rollout is not a number, are not drawn: posthog-python fails on that flag and leaves it
  out of such a snapshot, where hogkit lists it as `unsupported_definition` (README, "What
  differs on purpose"); the engine differential checks those flags.
- The strategies keep two inputs a real server never sends apart (see `client_strategies`):
  minimal flag events are switched on in the definitions and the answers together, and a
  capture asking for flags names a person (without one each SDK asks for a random id's).
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Iterator
from typing import Any

import posthog
import pytest
from client_compare import (
    FLAGS_TIMEOUT,
    SHORT_TIMEOUT,
    PerSdk,
    assert_server_saw_the_same,
    config_reply,
    describe,
    flags_reply,
    plain,
    snapshot_answer,
)
from client_strategies import GHOST, KEYS, REMOTE_CONFIG, Example, Read, ServerReply, examples
from compare import decision_view
from httpserver import LoopbackServer, Reply
from hypothesis import HealthCheck, given, settings
from reference import quiet_reference

from hogkit import Client as KitClient

DEFINITIONS = "/flags/definitions"
FLAGS = "/flags/"
SECRET = "phx_personal_key"

# Each example builds two clients and makes a few dozen loopback requests: 150 of them stay
# well inside a minute; HYPOTHESIS_PROFILE=deep runs the profile's count.
CI_MINIMUM_EXAMPLES = 150

# The fields a `/flags` body may differ in by construction: which SDK sent it, and when.
VOLATILE_BODY_FIELDS = frozenset({"api_key", "sent_at"})


class Bench:
    """One loopback server for every example; each example gets two fresh clients with
    project keys of their own, so the server tells both the SDKs and the examples apart."""

    def __init__(self) -> None:
        self.server = LoopbackServer()
        self._numbers = itertools.count()
        self._definitions = PerSdk()
        self._flags = PerSdk()
        self._config = PerSdk()
        self.server.handle(DEFINITIONS, self._definitions)
        self.server.handle(FLAGS, self._flags)
        for key in (*KEYS, GHOST):
            self.server.handle(REMOTE_CONFIG.format(key=key), self._config)

    def clients(self, example: Example) -> tuple[Any, Any, str, str]:
        """A reference client and a hogkit client for `example`, definitions loaded."""
        n = next(self._numbers)
        ref_key, kit_key = f"phc_reference_{n}", f"phc_hogkit_{n}"
        first = ServerReply("answer", example.document)
        if example.definitions_status != 200:
            first = ServerReply("error", example.definitions_status)
        self._definitions.load(
            [definitions_reply(r, n) for n, r in enumerate((first, *example.reloads))]
        )
        self._flags.load([flags_reply(r) for r in example.script])
        self._config.load([config_reply(*r) for r in example.config_script])
        timeout = SHORT_TIMEOUT if example.script[0].kind == "timeout" else FLAGS_TIMEOUT
        options: dict[str, Any] = {
            "host": self.server.url,
            "sync_mode": True,
            "poll_interval": 3600,
            "feature_flags_request_timeout_seconds": timeout,
            "feature_flags_request_max_retries": 0,
        }
        options.update(example.options or {})
        if example.document is not None:
            options["personal_api_key"] = SECRET
        else:
            options["enable_local_evaluation"] = False
        ref = posthog.Client(ref_key, **options)
        kit = KitClient(kit_key, **options)
        if example.document is not None:
            ref.load_feature_flags()
            kit.load_feature_flags()
        return ref, kit, ref_key, kit_key

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    bench = Bench()
    yield bench
    bench.close()


def definitions_reply(scripted: ServerReply, number: int) -> Reply:
    """What the `number`th definitions download gets: a document (with an ETag of its
    own), a 304 for the last one, or an error status."""
    if scripted.kind == "not_modified":
        return Reply(304, b"", {"ETag": f'"v{number - 1}"'})
    if scripted.kind == "error":
        return Reply(scripted.body, b'{"detail": "no"}', {"Content-Type": "application/json"})
    body = json.dumps(scripted.body).encode()
    return Reply(200, body, {"Content-Type": "application/json", "ETag": f'"v{number}"'})


def _result_view(result: Any) -> Any:
    if result is None:
        return None
    return {
        "key": result.key,
        "enabled": result.enabled,
        "variant": result.variant,
        "payload": result.payload,
        "reason": result.reason,
        "value": result.get_value(),
    }


def perform(client: Any, read: Read) -> Any:
    """`read` on `client`, as plain data."""
    if read.method == "load_feature_flags":
        # posthog-python returns None, hogkit whether the server answered: what the
        # download put in force shows in the reads that follow.
        client.load_feature_flags()
        return None
    if read.method == "capture":
        # The return value is a random event id: the event itself is compared.
        client.capture("checkout started", distinct_id=read.args[0], **read.kwargs)
        return None
    answer = getattr(client, read.method)(*read.args, **read.kwargs)
    if read.method == "get_feature_flag_result":
        return plain(_result_view(answer))
    if read.method == "get_flags_decision":
        return plain(decision_view(answer))
    if read.method != "evaluate_flags":
        return plain(answer)
    return snapshot_answer(client, read, answer)


def check_example(bench: Bench, example: Example) -> None:
    ref, kit, ref_key, kit_key = bench.clients(example)
    try:
        for i, read in enumerate(example.reads):
            expected, actual = perform(ref, read), perform(kit, read)
            assert actual == expected, (
                f"read #{i} {read}: posthog {expected}, hogkit {actual}\n{describe(example)}"
            )
        ref.flush()
        kit.flush()
        assert_server_saw_the_same(
            bench.server, ref_key, kit_key, VOLATILE_BODY_FIELDS, describe(example)
        )
    finally:
        ref.shutdown()
        kit.shutdown()


@settings(
    max_examples=max(settings.default.max_examples, CI_MINIMUM_EXAMPLES),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(example=examples())
def test_client_reads_events_and_requests_match_posthog(bench: Bench, example: Example) -> None:
    with warnings.catch_warnings(), quiet_reference():
        warnings.simplefilter("ignore", DeprecationWarning)
        check_example(bench, example)
