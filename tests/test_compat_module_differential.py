"""Regression tests for what the module-level differential
(`property_tests/test_module_differential.py`) found: each runs one call on `posthog` and
on `hogkit` against one loopback server and compares what the server received."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import posthog
import pytest
from twin import DEFS, KIT_KEY, REF_KEY, SECRET, Twin, event_differences, personless_marked, sdk_key

import hogkit

_SETTINGS = ("api_key", "host", "sync_mode", "default_client")


@pytest.fixture
def modules() -> Iterator[None]:
    """Restore both modules' settings and shut their default clients down afterwards."""
    saved = {m: {n: getattr(m, n) for n in _SETTINGS} for m in (posthog, hogkit)}
    try:
        yield
    finally:
        for module, values in saved.items():
            client = module.default_client
            if client:
                client.shutdown()
            for name, value in values.items():
                setattr(module, name, value)


PERSONLESS_CALLS: dict[str, Callable[[Any], Any]] = {
    "capture": lambda m: m.capture("signed up", send_feature_flags=True),
    "capture_exception": lambda m: m.capture_exception(ValueError("boom"), send_feature_flags=True),
}


@pytest.mark.parametrize("call", list(PERSONLESS_CALLS))
def test_a_personless_event_asks_for_the_flags_of_the_id_it_is_sent_with(
    call: str, modules: None
) -> None:
    """Without a distinct id, `send_feature_flags=True` asks `/flags` for the random id the
    personless event is then sent under, as posthog does; hogkit asked for `null`."""
    with Twin(local=False) as twin:
        for module, key in ((posthog, REF_KEY), (hogkit, KIT_KEY)):
            module.api_key = key  # type: ignore[attr-defined]
            module.host = twin.server.url  # type: ignore[attr-defined]
            module.sync_mode = True  # type: ignore[attr-defined]
            module.default_client = None  # type: ignore[attr-defined]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                PERSONLESS_CALLS[call](module)
            module.flush()  # type: ignore[attr-defined]
        for key in (REF_KEY, KIT_KEY):
            sent = [
                e["distinct_id"]
                for r in twin.server.requests("/batch/")
                if sdk_key(r) == key
                for e in r.json()["batch"]
            ]
            asked = [
                r.json()["distinct_id"]
                for r in twin.server.requests("/flags/")
                if sdk_key(r) == key
            ]
            assert len(sent) == 1
            assert asked == sent
        ref = personless_marked(twin.ref_events())
        kit = personless_marked(twin.kit_events())
        if call == "capture_exception":  # the frames are two different SDKs' own
            ref = [{**e, "properties": {}} for e in ref]
            kit = [{**e, "properties": {}} for e in kit]
        assert kit == ref, event_differences(ref, kit)


def test_a_setting_left_none_reaches_the_default_client_as_none(modules: None) -> None:
    """`disable_geoip = None` builds a client with `disable_geoip=None` (events carry no
    `$geoip_disable`), as posthog does; hogkit dropped the None and built the Client's
    default, True."""
    saved = {m: m.disable_geoip for m in (posthog, hogkit)}
    try:
        with Twin(local=False) as twin:
            for module, key in ((posthog, REF_KEY), (hogkit, KIT_KEY)):
                module.api_key = key  # type: ignore[attr-defined]
                module.host = twin.server.url  # type: ignore[attr-defined]
                module.sync_mode = True  # type: ignore[attr-defined]
                module.disable_geoip = None  # type: ignore[attr-defined]
                module.default_client = None  # type: ignore[attr-defined]
                module.capture("signed up", distinct_id="user-1")  # type: ignore[attr-defined]
                module.flush()  # type: ignore[attr-defined]
            ref, kit = twin.ref_events(), twin.kit_events()
            assert "$geoip_disable" not in ref[0]["properties"]
            assert kit == ref, event_differences(ref, kit)
    finally:
        for module, value in saved.items():
            module.disable_geoip = value


def test_a_disabled_default_client_downloads_no_definitions(modules: None) -> None:
    """`disabled = True` set after the default client was built: `load_feature_flags()`
    downloads nothing, as posthog makes no request; hogkit downloaded the definitions."""
    saved = {m: (m.disabled, m.personal_api_key) for m in (posthog, hogkit)}
    try:
        with Twin(local=False) as twin:
            for module, key in ((posthog, REF_KEY), (hogkit, KIT_KEY)):
                module.api_key = key  # type: ignore[attr-defined]
                module.host = twin.server.url  # type: ignore[attr-defined]
                module.personal_api_key = SECRET  # type: ignore[attr-defined]
                module.default_client = None  # type: ignore[attr-defined]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    module.setup()  # type: ignore[attr-defined]
                    module.disabled = True  # type: ignore[attr-defined]
                    module.load_feature_flags()  # type: ignore[attr-defined]
            assert twin.requests(DEFS, "ref") == []
            assert twin.requests(DEFS, "kit") == []
    finally:
        for module, (disabled, personal) in saved.items():
            module.disabled = disabled
            module.personal_api_key = personal
