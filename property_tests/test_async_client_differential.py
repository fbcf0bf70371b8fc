"""AsyncClient differential: hogkit's AsyncClient against posthog 7.91.1's, over one real server.

posthog's `AsyncClient` evaluates flags only on the server: `await evaluate_flags(...)`
asks `/flags` and returns the same snapshot type the sync client returns, whose reads
(`get_flag`, `is_enabled`, `get_flag_payload`, `keys`, `unresolved_flags`, `only`,
`only_accessed`) report `$feature_flag_called` and whose `capture(..., flags=snapshot)`
attaches the values read. Its other awaited read is `await get_remote_config_payload(key)`.
Those are the reads compared here, with what they cause: the return values (types kept
apart), every event sent, and the `/flags` request bodies.

The inputs are the sync differential's (`client_strategies`): `/flags` scripts with records
in both shapes, reasons, experiment fields, request-wide errors, quota limits, the oldest
response shape, 5xx and 4xx, bodies that are not JSON, resets and rarely a timeout; the
callers' context (properties, groups, flag keys, GeoIP, device ids); snapshot reads and
captures. Each example runs on a fresh event loop (`asyncio.run`) with two fresh clients.

What is relaxed, and why (nothing else is):

- Local evaluation is out of scope: posthog's AsyncClient has none, so hogkit's runs with
  `enable_local_evaluation=False` (an option posthog's AsyncClient does not take) and every
  read goes to the server in both. `only_evaluate_locally`, which posthog's `evaluate_flags`
  does not take, is dropped from the drawn reads.
- `capture(send_feature_flags=...)` is deprecated in both and attaches nothing without
  local evaluation: posthog's AsyncClient ignores it, hogkit's attaches local values only.
- Events are compared as in the sync differential (without `uuid`, `timestamp`, `$lib`,
  `$lib_version`; a personless event's random distinct id checked, then a marker).
- `/flags` bodies are compared decoded and without the key that names the SDK (posthog's
  AsyncClient sends it as `token`, its Client and hogkit as `api_key`) and `sent_at`.
- Both clients run with `feature_flags_request_max_retries=0`: a retry costs posthog a
  0.3 s sleep; retries are compared by the drop-in tests.
"""

from __future__ import annotations

import asyncio
import itertools
import warnings
from collections.abc import Iterator
from typing import Any, NamedTuple

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
from client_strategies import (
    GHOST,
    KEYS,
    REMOTE_CONFIG,
    SUPER_PROPERTIES,
    Read,
    ServerReply,
    capture_reads,
    config_scripts,
    evaluate_reads,
    reply_scripts,
)
from httpserver import LoopbackServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import quiet_reference

from hogkit import AsyncClient as KitAsyncClient

FLAGS = "/flags/"
SECRET = "phs_secret_key"

# The fields a `/flags` body may differ in by construction: which SDK sent it, and when.
VOLATILE_BODY_FIELDS = frozenset({"api_key", "token", "sent_at"})


class AsyncExample(NamedTuple):
    """One example: the `/flags` script, the remote-config script (status, body), the reads
    in order and the options both clients are built with."""

    script: list[ServerReply]
    config_script: list[tuple[str, Any]]
    reads: list[Read]
    options: dict[str, Any]


@st.composite
def _reads(draw: st.DrawFn, known: tuple[str, ...]) -> Read:
    kind = draw(st.integers(0, 5))
    if kind < 3:
        read = draw(evaluate_reads(known))
        kwargs = {k: v for k, v in read.kwargs.items() if k != "only_evaluate_locally"}
        return read._replace(kwargs=kwargs)
    if kind < 5:
        return Read("get_remote_config_payload", (draw(st.sampled_from((*known, GHOST))),), {})
    return draw(capture_reads(known))


@st.composite
def async_examples(draw: st.DrawFn) -> AsyncExample:
    known = KEYS[:3]
    options: dict[str, Any] = {}
    if not draw(st.integers(0, 5)):
        options["super_properties"] = draw(st.sampled_from(SUPER_PROPERTIES))
    if not draw(st.integers(0, 5)):
        options["disable_geoip"] = False
    if draw(st.integers(0, 3)):
        options["secret_key"] = SECRET
    script = draw(reply_scripts(known))
    config = draw(config_scripts())
    calls = draw(st.lists(_reads(known), min_size=1, max_size=5))
    return AsyncExample(script, config, calls, options)


class Bench:
    """One loopback server for every example; each example gets two fresh clients with
    project keys of their own, so the server tells both the SDKs and the examples apart."""

    def __init__(self) -> None:
        self.server = LoopbackServer()
        self._numbers = itertools.count()
        self._flags = PerSdk()
        self._config = PerSdk()
        self.server.handle(FLAGS, self._flags)
        for key in (*KEYS, GHOST):
            self.server.handle(REMOTE_CONFIG.format(key=key), self._config)

    def clients(self, example: AsyncExample) -> tuple[Any, Any, str, str]:
        """posthog's AsyncClient and hogkit's for `example` (built on the running loop)."""
        n = next(self._numbers)
        ref_key, kit_key = f"phc_reference_{n}", f"phc_hogkit_{n}"
        self._flags.load([flags_reply(r) for r in example.script])
        self._config.load([config_reply(*r) for r in example.config_script])
        timeout = SHORT_TIMEOUT if example.script[0].kind == "timeout" else FLAGS_TIMEOUT
        options: dict[str, Any] = {
            "host": self.server.url,
            "feature_flags_request_timeout_seconds": timeout,
            "feature_flags_request_max_retries": 0,
            **example.options,
        }
        ref = posthog.AsyncClient(ref_key, **options)
        kit = KitAsyncClient(kit_key, enable_local_evaluation=False, **options)
        return ref, kit, ref_key, kit_key

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    bench = Bench()
    yield bench
    bench.close()


async def perform(client: Any, read: Read) -> Any:
    """`read` on `client`, as plain data."""
    if read.method == "capture":
        client.capture("checkout started", distinct_id=read.args[0], **read.kwargs)
        return None
    if read.method == "get_remote_config_payload":
        return plain(await client.get_remote_config_payload(*read.args))
    answer = await client.evaluate_flags(*read.args, **read.kwargs)
    return snapshot_answer(client, read, answer)


async def check_example(bench: Bench, example: AsyncExample) -> None:
    ref, kit, ref_key, kit_key = bench.clients(example)
    try:
        for i, read in enumerate(example.reads):
            expected, actual = await perform(ref, read), await perform(kit, read)
            assert actual == expected, (
                f"read #{i} {read}: posthog {expected}, hogkit {actual}\n{describe(example)}"
            )
        await ref.flush()
        await kit.flush()
        assert_server_saw_the_same(
            bench.server, ref_key, kit_key, VOLATILE_BODY_FIELDS, describe(example)
        )
    finally:
        await ref.shutdown()
        await kit.shutdown()


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(example=async_examples())
def test_async_client_reads_events_and_requests_match_posthog(
    bench: Bench, example: AsyncExample
) -> None:
    with warnings.catch_warnings(), quiet_reference():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.run(check_example(bench, example))
