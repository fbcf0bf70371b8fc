"""Code variables the exception differential (property_tests/test_exception_differential.py)
found hogkit sending differently from posthog 7.91.1, each pinned by running both.

A frame holding one variable raises; an offline posthog client (its events recorded by
`before_send`) and a hogkit client with an in-memory transport capture it, with code
variables on, and the variables of that frame must be the same.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from oracle import recording_clients

from hogkit import Client as KitClient
from hogkit import MemoryTransport

HERE = os.path.dirname(os.path.abspath(__file__))


def holding(note: Any) -> None:
    """A frame whose one variable is `note`."""
    raise RuntimeError("failed")


def variables_of(event: dict[str, Any]) -> Any:
    frames = event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    (frame,) = [f for f in frames if f["function"] == holding.__name__]
    return frame.get("code_variables")


def variables_of_both(value: Any, **settings: Any) -> tuple[Any, Any]:
    memory = MemoryTransport()
    options = {"project_root": HERE, "capture_exception_code_variables": True, **settings}
    with recording_clients() as (make, sent):
        reference = make(**options)
        kit = KitClient("phc_hogkit", sync_mode=True, transport=memory, **options)
        try:
            for client in (reference, kit):
                try:
                    holding(value)
                except RuntimeError as error:
                    client.capture_exception(error, distinct_id="user-1")
            kit.flush()
        finally:
            kit.shutdown()
    (theirs,), (ours,) = sent, memory.events
    return variables_of(theirs), variables_of(ours)


# `Authorization` credentials in text: redacted whatever the variable's name, unless they
# read as prose (short, or a lowercase word); a `Basic` pair however short.
AUTHORIZATION_TEXTS = [
    "Bearer 00000000",
    "BEARER abc.def.ghi",
    "sent with Authorization: Bearer eyJhbGciOi.payload.sig and more",
    "Bearer: 'abcdefghijkl'",
    'basic : "dXNlcjpwYXNzd29yZA=="',
    "Basic dXNlcjpwYXNz",
    "basic YTpi",
    "Basic abcd",
    "bearer abcdefgh",
    "the bearer of",
    "bearer transportation",
    "basicConfig",
    "Bearer postgres://admin:hunter2@db:5432/app",
]


@pytest.mark.parametrize("text", AUTHORIZATION_TEXTS)
def test_authorization_credentials_are_redacted_as_posthog_redacts_them(text: str) -> None:
    theirs, ours = variables_of_both(text)
    assert ours == theirs


@pytest.mark.parametrize("number", [2**53, -(2**53) - 1, 2**64, 10**30, 2**53 - 1])
def test_an_integer_of_any_size_is_a_number(number: int) -> None:
    """Sent as a JSON number, as posthog sends it, not as text."""
    theirs, ours = variables_of_both(number)
    assert ours == theirs


@pytest.mark.parametrize(
    "text", ["Bearer abc.def.ghi", "x" * 3000, "postgres://admin:hunter2@db/app", "sk_live_4eC39Hq"]
)
def test_no_pattern_and_both_scrubs_off_turn_masking_off(text: str) -> None:
    """Nothing redacted, long text only cut, as posthog does with masking off."""
    theirs, ours = variables_of_both(
        text,
        code_variables_mask_patterns=[],
        code_variables_mask_url_credentials=False,
        code_variables_detect_secrets=False,
    )
    assert ours == theirs
