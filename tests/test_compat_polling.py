"""When definitions are downloaded, side by side with posthog 7.91.1: not before the first
flag read or `load_feature_flags()` (definitions polls are billed, and a process that only
captures events makes none), then every `poll_interval`; a forked child polls only if its
parent did."""

from __future__ import annotations

import json
import os
import time

from twin import DEFS, Twin, definitions, flag

DOC = definitions(flag("beta"))
# Long enough for a download started at construction to have arrived.
SETTLE = 0.5


def downloads(twin: Twin) -> tuple[int, int]:
    """Definitions requests so far: (posthog's, hogkit's)."""
    return len(twin.requests(DEFS, "ref")), len(twin.requests(DEFS, "kit"))


def test_a_client_that_reads_no_flag_downloads_no_definitions() -> None:
    with Twin(DOC, poll_interval=0.2) as twin:
        twin.both("capture", "signed up", distinct_id="user-1")
        twin.run(lambda client: client.flush())
        time.sleep(SETTLE)
        assert downloads(twin) == (0, 0)
        assert twin.run(lambda client: client.feature_flags) == (None, None)


def test_the_first_flag_read_downloads_and_starts_polling() -> None:
    with Twin(DOC, poll_interval=0.3) as twin:
        ref, kit = twin.both("get_feature_flag", "beta", "user-1")
        assert ref is kit is True
        assert downloads(twin) == (1, 1)
        time.sleep(1.0)
        theirs, ours = downloads(twin)
        assert theirs >= 3 and ours >= 3  # kept fresh every interval after the first read


def test_load_feature_flags_downloads_once_then_polls_an_interval_later() -> None:
    with Twin(DOC, poll_interval=0.6) as twin:
        twin.run(lambda client: client.load_feature_flags())
        assert downloads(twin) == (1, 1)
        time.sleep(0.3)
        assert downloads(twin) == (1, 1)  # no second download right behind the first
        time.sleep(0.8)
        theirs, ours = downloads(twin)
        assert theirs >= 2 and ours >= 2


def forked_downloads(twin: Twin, read_first: bool) -> int:
    """Definitions downloads hogkit's client made in a forked child in `SETTLE` seconds,
    whose parent had read a flag before forking (`read_first`) or not."""
    if read_first:
        twin.kit.get_feature_flag("beta", "user-1")
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child reports through the pipe
        os.close(reader)
        before = twin.kit.flag_definitions_status().fetches
        time.sleep(SETTLE)
        made = twin.kit.flag_definitions_status().fetches - before
        os.write(writer, json.dumps(made).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        made: int = json.loads(pipe.read())
    os.waitpid(child, 0)
    return made


def test_a_forked_child_polls_only_if_its_parent_did() -> None:
    with Twin(DOC, poll_interval=0.1) as twin:
        assert forked_downloads(twin, read_first=False) == 0
    with Twin(DOC, poll_interval=0.1) as twin:
        assert forked_downloads(twin, read_first=True) >= 1


def test_without_local_evaluation_a_load_downloads_once_and_never_polls() -> None:
    with Twin(DOC, poll_interval=0.2, enable_local_evaluation=False) as twin:
        twin.run(lambda client: client.load_feature_flags())
        twin.both("get_feature_flag", "beta", "user-1")
        time.sleep(0.6)
        assert downloads(twin) == (1, 1)
