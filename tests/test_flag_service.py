"""The flag collaborator's seams: replacing the local definitions and hearing of changes,
and the single-flag read that skips the snapshot when nothing needs one."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hogkit.transport import MemoryTransport

from hogkit import Client, FlagSet

KEY = "phc_flag_service_test"


def flag(key: str, rollout: int, properties: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "key": key,
        "active": True,
        "filters": {"groups": [{"properties": properties or [], "rollout_percentage": rollout}]},
    }


def definitions(*flags: dict[str, Any]) -> FlagSet:
    return FlagSet.from_document({"flags": list(flags), "group_type_mapping": {}, "cohorts": {}})


def test_replaced_definitions_are_used_and_listeners_hear_of_them() -> None:
    heard: list[FlagSet | None] = []
    with Client(KEY, transport=MemoryTransport(), flag_definitions=definitions(flag("a", 0))) as c:
        c.flag_service.on_change(heard.append)
        assert c.evaluate_flags("u").get_flag("a") is False
        replacement = definitions(flag("a", 100), flag("b", 100))
        c.flag_service.replace_definitions(replacement)
        assert c.flag_service.flagset is replacement
        assert c.evaluate_flags("u").flag_values == {"a": True, "b": True}
        c.flag_service.replace_definitions(None)
        assert c.flag_service.flagset is None
        assert c.evaluate_flags("u", only_evaluate_locally=True).flag_values == {}
    # the first set when first used, then each replacement, once each
    assert [fs.keys if fs is not None else None for fs in heard] == [
        ("a",),
        ("a", "b"),
        None,
    ]


def test_single_flag_reads_agree_with_the_snapshot_path() -> None:
    fs = definitions(
        flag("on", 100),
        flag("half", 50),
        flag("pro", 100, [{"key": "plan", "value": ["pro"], "operator": "exact"}]),
        flag("needs-server", 100, [{"key": "plan", "value": ["pro"], "operator": "exact"}]),
    )
    transport = MemoryTransport()
    with Client(KEY, transport=transport, flag_definitions=fs) as c, warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for person in [f"user-{i}" for i in range(40)]:
            props = {"plan": "pro"} if person.endswith("7") else {}
            snap = c.evaluate_flags(person, person_properties=props)
            for key in ("on", "half", "pro", "needs-server", "missing"):
                quiet = c.get_feature_flag(
                    key, person, person_properties=props, send_feature_flag_events=False
                )
                assert quiet == snap.get_flag(key, send_feature_flag_events=False), (person, key)
        c.flush()
    assert transport.events == []  # neither path reported anything


def test_forwarded_methods_keep_their_signature_and_work_on_the_class() -> None:
    import inspect

    from hogkit.transport.flag_api import FlagAPI

    with Client(
        KEY, transport=MemoryTransport(), flag_definitions=definitions(flag("a", 100))
    ) as c:
        expected = inspect.signature(FlagAPI.get_all_flags)
        assert inspect.signature(Client.get_all_flags) == expected
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            assert Client.get_all_flags(c, "u") == c.get_all_flags("u") == {"a": True}
        assert Client.evaluate_flags.__doc__ == FlagAPI.evaluate_flags.__doc__


def test_client_settings_read_and_write_the_collaborators_own() -> None:
    def hook(event: Any) -> Any:
        return event

    with Client(KEY, transport=MemoryTransport(), sync_mode=True, exit_timeout=0.5) as c:
        c.disabled = True
        c.before_send = hook
        c.project_root = "/srv/app"
        c.in_app_modules = ["shop", "billing"]
        assert c.disabled and c._events.disabled
        assert c.before_send is hook and c._events.before_send is hook
        assert c.project_root == c._event_methods.project_root == "/srv/app"
        assert c.in_app_modules == ("shop", "billing")
        assert (c.sync_mode, c.send, c.exit_timeout, c.closed) == (True, True, 0.5, False)
        for name in ("sync_mode", "send", "exit_timeout", "closed"):
            with pytest.raises(AttributeError):
                setattr(c, name, False)
        assert c.capture("e", distinct_id="u") is None  # disabled: nothing captured
    assert c.closed
    assert "pause" in (Client.disabled.__doc__ or "")
