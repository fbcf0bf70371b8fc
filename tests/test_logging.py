"""The `hogkit` logger behaves like a library's: silent unless asked, each message once.

Each case runs a fresh interpreter, because logging configuration is process-wide.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from httpserver import LoopbackServer, Reply

KEY = "phc_logging_test_key"
SECRET = "phs_logging_test_secret"
DEFINITIONS = {"flags": [], "group_type_mapping": {}, "cohorts": {}}


def run(script: str) -> str:
    """stderr of `script` run in a fresh interpreter (where logging writes by default)."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stderr


def test_the_library_adds_only_a_null_handler_and_sets_no_level() -> None:
    err = run(
        """
        import logging, sys, hogkit.transport
        logger = logging.getLogger("hogkit")
        print([type(h).__name__ for h in logger.handlers], logger.level, file=sys.stderr)
        """
    )
    assert err.strip() == "['NullHandler'] 0"


def test_without_debug_nothing_below_warning_shows(loopback: LoopbackServer) -> None:
    err = run(
        f"""
        from hogkit import Client
        client = Client({KEY!r}, host={loopback.url!r})
        client.capture("e", distinct_id="u")
        client.shutdown()
        """
    )
    assert err == ""


@pytest.mark.parametrize("configured", [True, False], ids=["basicConfig", "no-config"])
def test_debug_shows_each_message_once_with_send_poll_and_flags_lines(
    loopback: LoopbackServer, configured: bool
) -> None:
    loopback.script("/flags/definitions", then=Reply.json(DEFINITIONS))
    loopback.script("/flags/", then=Reply.json({"flags": {}}))
    setup = "logging.basicConfig(level=logging.DEBUG)" if configured else ""
    err = run(
        f"""
        import logging
        {setup}
        from hogkit import Client
        client = Client({KEY!r}, host={loopback.url!r}, debug=True, secret_key={SECRET!r})
        client.load_feature_flags()
        client.capture("e", distinct_id="u", timestamp="not a time")
        client.flush()
        client.evaluate_flags("u", flag_keys=["unknown-flag"])
        client.shutdown()
        """
    )
    lines = err.splitlines()
    assert sum("invalid timestamp" in line for line in lines) == 1
    # Messages the script causes exactly once must print exactly once: a second handler
    # (or propagation to the root's) would double them.
    assert sum("hogkit" in line and "sent a batch of 1 events" in line for line in lines) == 1, err
    assert sum("hogkit" in line and "POST /flags" in line for line in lines) == 1, err
    assert any("DEBUG" in line and "definitions poll answered HTTP 200" in line for line in lines)
    ours = [line for line in lines if "hogkit" in line]  # urllib3 logs its own DEBUG lines
    assert not any(KEY in line or SECRET in line for line in ours)


def test_a_rejected_value_is_logged_short_and_its_repr_is_never_called() -> None:
    """A bad timestamp or uuid is replaced with a warning naming it: a text cut to a
    readable length, anything else by its type (its `__repr__` is the application's,
    which may raise inside logging or print megabytes)."""
    err = run(
        """
        import logging
        logging.basicConfig(level=logging.WARNING)
        from hogkit import Client

        class Hostile:
            def __repr__(self):
                raise RuntimeError("repr called")
            __str__ = __repr__

        client = Client("phc_logging_test_key", send=False)
        client.capture("e", distinct_id="u", timestamp="x" * 1_000_000)
        client.capture("e", distinct_id="u", timestamp=Hostile())
        client.capture("e", distinct_id="u", uuid=Hostile())
        client.capture("e", distinct_id="u", uuid="y" * 1_000_000)
        client.shutdown()
        """
    )
    lines = err.splitlines()
    assert "Logging error" not in err and "repr called" not in err, err[:2000]
    assert sum("invalid timestamp" in line for line in lines) == 2, err[:2000]
    assert sum("invalid uuid" in line for line in lines) == 2, err[:2000]
    assert sum("Hostile" in line for line in lines) == 2
    assert max(map(len, lines)) < 300


@pytest.mark.parametrize("module", ["posthog", "hogkit"])
def test_client_log_quiets_the_library_as_posthogs_does(module: str) -> None:
    """Applications silence posthog-python with `client.log.setLevel("CRITICAL")`, on the
    Client and the AsyncClient; the same line must work after switching, and quiet it."""
    loud, quiet = (
        run(
            f"""
            import logging
            logging.basicConfig(level=logging.WARNING)
            from {module} import AsyncClient, Client
            client = Client("phc_logging_test_key", send=False)
            assert AsyncClient.log is client.log and client.log is logging.getLogger({module!r})
            {setup}
            client.capture("e", distinct_id="u", timestamp="not a time")
            client.shutdown()
            """
        )
        for setup in ("", 'client.log.setLevel("CRITICAL")')
    )
    assert "timestamp" in loud
    assert quiet == ""
