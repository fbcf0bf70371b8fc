"""Warnings and the secret key side by side with posthog 7.91.1.

Many applications run their test suites with warnings turned into errors. Switching the
import from posthog to hogkit must not make such a suite fail: every call that returns
under `simplefilter("error", DeprecationWarning)` with the reference returns the same value
with hogkit, and a call the reference refuses that way is refused by hogkit too. The
warning texts are hogkit's own; only their opening words (the method's name and "is
deprecated") are the reference's, so a filter on that opening keeps matching.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import posthog
import pytest
from hogkit.transport import flag_reads
from httpserver import LoopbackServer, Reply
from twin import DEFS, KIT_KEY, REF_KEY, KitClient, Twin, definitions, flag, flags_response, record

DOC = definitions(flag("on", 1, payloads={"true": '{"ok": true}'}))
ANSWER = flags_response(record("on", True, fid=1))

CALLS: dict[str, Callable[[Any], Any]] = {
    "get_feature_flag": lambda c: c.get_feature_flag("on", "user-1"),
    "feature_enabled": lambda c: c.feature_enabled("on", "user-1"),
    "get_feature_flag_payload": lambda c: c.get_feature_flag_payload("on", "user-1"),
    "get_feature_flag_payload, reporting": lambda c: c.get_feature_flag_payload(
        "on", "user-1", send_feature_flag_events=True
    ),
    "get_feature_flag_result": lambda c: c.get_feature_flag_result("on", "user-1").enabled,
    "get_all_flags": lambda c: c.get_all_flags("user-1"),
    "get_all_flags_and_payloads": lambda c: c.get_all_flags_and_payloads("user-1"),
    "get_feature_variants": lambda c: c.get_feature_variants("user-1"),
    "get_feature_payloads": lambda c: c.get_feature_payloads("user-1"),
    "get_feature_flags_and_payloads": lambda c: c.get_feature_flags_and_payloads("user-1"),
    "evaluate_flags": lambda c: sorted(c.evaluate_flags("user-1").keys),
    "capture": lambda c: c.capture("signed up", distinct_id="user-1") is not None,
    "capture with send_feature_flags": lambda c: (
        c.capture("signed up", distinct_id="user-1", send_feature_flags=True) is not None
    ),
    "load_feature_flags": lambda c: (c.load_feature_flags(), "loaded")[1],
}


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """hogkit warns once per method per process; each test starts as a new process would."""
    monkeypatch.setattr(flag_reads, "_warned", set())
    yield


def strictly(call: Callable[[], Any]) -> tuple[str, Any]:
    """`call()` with DeprecationWarnings as errors: ("returned", value) or ("refused", text)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return "returned", call()
        except DeprecationWarning as warning:
            return "refused", str(warning)


def opening(text: str) -> str:
    """A deprecation message up to and including its "is deprecated"."""
    head, found, _ = text.partition(" is deprecated")
    assert found, text
    return head + found


@pytest.mark.parametrize("call", list(CALLS))
def test_warnings_as_errors_refuse_what_the_reference_refuses(call: str) -> None:
    with Twin(DOC, [Reply.json(ANSWER)]) as twin:
        ref = strictly(lambda: CALLS[call](twin.ref))
        kit = strictly(lambda: CALLS[call](twin.kit))
    assert kit[0] == ref[0], f"reference {ref!r}, hogkit {kit!r}"
    if ref[0] == "returned":
        assert kit[1] == ref[1]
    else:
        assert kit[1].startswith(opening(ref[1]))


KEYS: dict[str, dict[str, Any]] = {
    "personal_api_key": {"personal_api_key": "phx_personal"},
    "both": {"personal_api_key": "phx_personal", "secret_key": "phs_secret"},
    "secret_key": {"secret_key": "phs_secret"},
    "padded": {"personal_api_key": "  phx_personal\n"},
    "blank secret_key": {"personal_api_key": "phx_personal", "secret_key": ""},
    "blank": {"secret_key": "   "},
}


def _build(module_client: Any, project_key: str, url: str, keys: dict[str, Any]) -> Any:
    return module_client(project_key, host=url, sync_mode=True, poll_interval=3600, **keys)


@pytest.mark.parametrize("keys", list(KEYS))
def test_the_constructor_warns_as_the_reference_does(keys: str) -> None:
    with LoopbackServer() as server:
        ref = strictly(lambda: _build(posthog.Client, REF_KEY, server.url, KEYS[keys]))
        kit = strictly(lambda: _build(KitClient, KIT_KEY, server.url, KEYS[keys]))
        for outcome, client in (ref, kit):
            if outcome == "returned":
                client.shutdown()
    assert kit[0] == ref[0], f"reference {ref!r}, hogkit {kit!r}"
    if ref[0] == "refused":
        assert kit[1].startswith(opening(ref[1]))


def _logged_about_the_older_name(caplog: pytest.LogCaptureFixture, logger: str) -> bool:
    return any(
        r.name.partition(".")[0] == logger and "personal_api_key" in r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING
    )


@pytest.mark.parametrize("keys", list(KEYS))
def test_the_key_in_use_is_the_references(keys: str, caplog: pytest.LogCaptureFixture) -> None:
    """The same key reads back under both names, the same one downloads definitions, and
    a key given under both names is logged as the reference logs it."""
    caplog.set_level(logging.WARNING)
    with LoopbackServer() as server, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server.script(DEFS, then=Reply.json(DOC))
        ref = _build(posthog.Client, REF_KEY, server.url, KEYS[keys])
        kit = _build(KitClient, KIT_KEY, server.url, KEYS[keys])
        try:
            for client in (ref, kit):
                client.load_feature_flags()
            for name in ("secret_key", "personal_api_key"):
                assert getattr(kit, name) == getattr(ref, name), name
            sent = {
                who: {
                    r.headers.get("authorization")
                    for r in server.requests(DEFS)
                    if r.query.get("token") == [key]
                }
                for who, key in (("ref", REF_KEY), ("kit", KIT_KEY))
            }
            assert sent["kit"] == sent["ref"]
            local = [c.get_all_flags("user-1", only_evaluate_locally=True) for c in (ref, kit)]
            assert local[1] == local[0]
            assert _logged_about_the_older_name(caplog, "hogkit") == _logged_about_the_older_name(
                caplog, "posthog"
            )
        finally:
            ref.shutdown()
            kit.shutdown()
