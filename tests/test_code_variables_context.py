"""Per-context code-variable settings: a context switches variables on or off and replaces
the client's mask and ignore patterns for the exceptions captured inside it."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import posthog
import pytest
from hogkit.core.code_variables import REDACTED
from hogkit.transport import Client, MemoryTransport
from twin import Twin

import hogkit

HERE = os.path.dirname(os.path.abspath(__file__))
DATABASE = "postgres://admin:hunter2@db.internal:5432/app"


def failing_order(amount: int) -> None:
    customer = "alice"
    database = DATABASE
    raise ValueError(f"order of {amount} failed ({customer[:0]}{database[:0]})")


def variables_of(event: dict[str, Any]) -> dict[str, Any] | None:
    frames = event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    (frame,) = [f for f in frames if f["function"] == "failing_order"]
    found = frame.get("code_variables")
    assert found is None or isinstance(found, dict)
    return found


def capture_in_context(client: Client, *settings: Callable[[], None]) -> dict[str, Any] | None:
    """Raise inside a new context with `settings` applied; the captured frame's variables."""
    with hogkit.new_context():
        for setting in settings:
            setting()
        try:
            failing_order(7)
        except ValueError as exc:
            client.capture_exception(exc)
    memory = client.transport
    assert isinstance(memory, MemoryTransport)
    return variables_of(memory.events[-1])


def make_client(**options: Any) -> Client:
    return Client(
        "phc_test", sync_mode=True, transport=MemoryTransport(), project_root=HERE, **options
    )


def test_a_context_turns_variables_on_for_a_client_that_has_them_off() -> None:
    client = make_client()
    on = capture_in_context(
        client, lambda: hogkit.set_capture_exception_code_variables_context(True)
    )
    assert on is not None and on["customer"] == "alice" and on["amount"] == 7
    # outside the context the client's own setting (off) applies again
    try:
        failing_order(1)
    except ValueError as exc:
        client.capture_exception(exc)
    assert variables_of(client.transport.events[-1]) is None  # type: ignore[attr-defined]


def test_a_context_turns_variables_off() -> None:
    client = make_client(capture_exception_code_variables=True)
    off = capture_in_context(
        client, lambda: hogkit.set_capture_exception_code_variables_context(False)
    )
    assert off is None


def test_context_patterns_replace_the_clients() -> None:
    client = make_client(capture_exception_code_variables=True)
    found = capture_in_context(
        client,
        lambda: hogkit.set_code_variables_mask_patterns_context(["cust"]),
        lambda: hogkit.set_code_variables_ignore_patterns_context(["^amount$"]),
        lambda: hogkit.set_code_variables_mask_url_credentials_context(False),
    )
    assert found is not None
    assert found["customer"] == REDACTED
    assert "amount" not in found
    assert found["database"] == DATABASE  # URL credentials left as they are


def test_nested_contexts_inherit_unless_fresh() -> None:
    client = make_client()
    with hogkit.new_context():
        hogkit.set_capture_exception_code_variables_context(True)
        hogkit.set_code_variables_mask_patterns_context(["cust"])
        inner = capture_in_context(client)  # a nested context inherits both
        with hogkit.new_context(fresh=True):
            try:
                failing_order(2)
            except ValueError as exc:
                client.capture_exception(exc)
            fresh = variables_of(client.transport.events[-1])  # type: ignore[attr-defined]
    assert inner is not None and inner["customer"] == REDACTED
    assert fresh is None


def test_settings_outside_any_context_do_nothing() -> None:
    client = make_client()
    hogkit.set_capture_exception_code_variables_context(True)
    try:
        failing_order(3)
    except ValueError as exc:
        client.capture_exception(exc)
    assert variables_of(client.transport.events[-1]) is None  # type: ignore[attr-defined]


def test_an_exception_leaving_a_context_is_captured_with_its_settings() -> None:
    client = make_client()
    with pytest.raises(ValueError), client.new_context(capture_exceptions=True):
        hogkit.set_capture_exception_code_variables_context(True)
        hogkit.set_code_variables_ignore_patterns_context(["^customer$"])
        failing_order(4)
    found = variables_of(client.transport.events[-1])  # type: ignore[attr-defined]
    assert found is not None and "customer" not in found and found["amount"] == 4


CASES: dict[str, list[tuple[str, Any]]] = {
    "enable": [("set_capture_exception_code_variables_context", True)],
    "patterns": [
        ("set_capture_exception_code_variables_context", True),
        ("set_code_variables_mask_patterns_context", ["cust"]),
        ("set_code_variables_ignore_patterns_context", ["^amount$"]),
        ("set_code_variables_mask_url_credentials_context", False),
    ],
    "secrets-off": [
        ("set_capture_exception_code_variables_context", True),
        ("set_code_variables_detect_secrets_context", False),
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_variables_as_the_reference(case: str) -> None:
    with Twin(local=False, project_root=HERE) as twin:
        for module, client in ((posthog, twin.ref), (hogkit, twin.kit)):
            with module.new_context():
                for name, value in CASES[case]:
                    getattr(module, name)(value)
                try:
                    failing_order(5)
                except ValueError as exc:
                    client.capture_exception(exc)
        ref = [variables_of(e) for e in twin.ref_events() if e["event"] == "$exception"]
        kit = [variables_of(e) for e in twin.kit_events() if e["event"] == "$exception"]
        assert len(ref) == 1 and ref[0] is not None
        assert kit == ref
