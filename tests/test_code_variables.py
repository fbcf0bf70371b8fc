"""Local variables on `$exception` frames: masked by name, by value, and scrubbed of credentials."""

from __future__ import annotations

import json
import os
from typing import Any

from hogkit.core.code_variables import (
    REDACTED,
    TOO_LONG,
    VariablesConfig,
    encode_variables,
    looks_like_secret,
    mask_text,
    scrub_url_credentials,
)
from hogkit.transport import Client, MemoryTransport
from hogkit.transport.variable_values import render_value
from hypothesis import given
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
STRIPE_LIKE = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
DATABASE = "postgres://admin:hunter2@db.internal:5432/app"


def failing_checkout(amount: int) -> None:
    password = "correct horse battery staple"
    billing_key = STRIPE_LIKE
    database = DATABASE
    customer = "alice"
    raise RuntimeError(
        f"charge of {amount} failed for {customer} ({password[:0]}{billing_key[:0]}{database[:0]})"
    )


def captured_frame(**options: Any) -> dict[str, Any]:
    memory = MemoryTransport()
    client = Client(
        "phc_test",
        sync_mode=True,
        transport=memory,
        project_root=HERE,
        capture_exception_code_variables=True,
        **options,
    )
    try:
        failing_checkout(42)
    except RuntimeError as exc:
        client.capture_exception(exc)
    (event,) = memory.events
    frames = event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    (frame,) = [f for f in frames if f["function"] == "failing_checkout"]
    assert frame["in_app"] is True
    return frame


def test_password_api_key_and_url_credentials_are_masked() -> None:
    frame = captured_frame()
    variables = frame["code_variables"]
    assert variables["password"] == REDACTED
    assert variables["billing_key"] == REDACTED
    assert variables["database"] == f"postgres://{REDACTED}@db.internal:5432/app"
    assert variables["customer"] == "alice"
    assert variables["amount"] == 42
    wire = json.dumps(variables)
    for secret in ("correct horse", STRIPE_LIKE, "hunter2"):
        assert secret not in wire


def test_user_patterns_replace_defaults_and_ignore_names() -> None:
    frame = captured_frame(
        code_variables_mask_patterns=["customer"], code_variables_ignore_patterns=["^amount$"]
    )
    variables = frame["code_variables"]
    assert variables["customer"] == REDACTED
    assert "amount" not in variables


def test_off_by_default() -> None:
    memory = MemoryTransport()
    client = Client("phc_test", sync_mode=True, transport=memory, project_root=HERE)
    try:
        failing_checkout(1)
    except RuntimeError as exc:
        client.capture_exception(exc)
    frames = memory.events[0]["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert all("code_variables" not in f for f in frames)


CONFIG = VariablesConfig.build()


@given(st.text(max_size=40), st.text(min_size=1, max_size=20))
def test_never_sends_text_matching_a_mask_pattern(prefix: str, suffix: str) -> None:
    text = prefix + "Password" + suffix
    assert mask_text(text, CONFIG) == REDACTED
    variables, _ = encode_variables(
        [("harmless", text), ("my_token", "x")], CONFIG, 10_000, render_value
    )
    assert variables == {"harmless": REDACTED, "my_token": REDACTED}


@given(
    st.dictionaries(
        st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.text(max_size=300), max_size=30
    ),
    st.integers(min_value=0, max_value=2000),
)
def test_budget_bounds_total_size(items: dict[str, str], budget: int) -> None:
    variables, left = encode_variables(items.items(), CONFIG, budget, render_value)
    used = sum(len(str(v)) for v in variables.values())
    assert used + left == budget
    assert left >= 0
    assert all(len(str(v)) <= CONFIG.max_length for v in variables.values())


def test_text_rules() -> None:
    assert scrub_url_credentials("redis://:pw@cache:6379/0") == f"redis://{REDACTED}@cache:6379/0"
    assert scrub_url_credentials("https://example.com/a@b") == "https://example.com/a@b"
    assert looks_like_secret("AKIAIOSFODNN7EXAMPLE")
    assert looks_like_secret("Zx9#qL2!mW8$vB4^nT6&")
    assert not looks_like_secret("550e8400-e29b-41d4-a716-446655440000")
    assert not looks_like_secret("d41d8cd98f00b204e9800998ecf8427e")
    assert not looks_like_secret("a sentence with words")
    assert mask_text("x" * 5000, CONFIG) == TOO_LONG
