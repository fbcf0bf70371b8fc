"""The on-disk spool: records survive the writer, replay hands each out once, damage is
skipped and counted, and live segments belong to their writer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hogkit.transport import spool as sp
from hypothesis import given
from hypothesis import strategies as st


def drain(directory: str) -> tuple[list[bytes], int]:
    """Replay everything replayable, acknowledging it; the records and the torn count."""
    spool = sp.Spool(directory)
    got: list[bytes] = []
    for segment in spool.replay():
        got.extend(segment.records())
        segment.ack()
    return got, spool.torn


def records(n: int, tag: str = "e") -> list[bytes]:
    return [json.dumps({"uuid": f"{tag}-{i}", "pad": "x" * (i % 50)}).encode() for i in range(n)]


def test_records_come_back_in_order_once(tmp_path: Path) -> None:
    spool = sp.Spool(str(tmp_path), segment_bytes=2000)
    written = records(300)
    assert spool.append(written[:100]) == 100
    assert spool.append(written[100:]) == 200
    spool.close()
    assert len(list(tmp_path.glob("*.seg"))) > 1  # rotation happened
    assert drain(str(tmp_path)) == (written, 0)
    assert drain(str(tmp_path)) == ([], 0)
    assert list(tmp_path.iterdir()) == []


def test_a_segment_being_written_is_not_replayed(tmp_path: Path) -> None:
    writer = sp.Spool(str(tmp_path))
    writer.append(records(5))
    assert drain(str(tmp_path)) == ([], 0)
    writer.close()
    assert drain(str(tmp_path)) == (records(5), 0)


def test_damage_is_skipped_and_counted(tmp_path: Path) -> None:
    spool = sp.Spool(str(tmp_path))
    written = records(10)
    spool.append(written)
    spool.close()
    (segment,) = tmp_path.glob("*.seg")
    data = bytearray(segment.read_bytes())
    offsets = [end for _, end in sp.parse(bytes(data))]
    data[offsets[2] + sp.HEADER.size + 3] ^= 0xFF  # a bit flip inside record 3's payload
    segment.write_bytes(bytes(data[: offsets[8] + 5]))  # and a tear inside record 10
    got, torn = drain(str(tmp_path))
    assert got == written[:3] + written[4:9]
    assert torn == 2


@given(st.binary(max_size=300), st.lists(st.binary(max_size=40), max_size=5))
def test_parse_never_raises_and_reads_back_intact_frames(
    noise: bytes, payloads: list[bytes]
) -> None:
    parsed = list(sp.parse(noise))
    assert all(end <= len(noise) for _, end in parsed)
    stored = b"".join(sp.frame(p) for p in payloads)
    assert [p for p, _ in sp.parse(stored)] == payloads
    assert [p for p, _ in sp.parse(stored + noise)][: len(payloads)] == payloads


def test_a_replay_interrupted_after_an_ack_resumes_after_it(tmp_path: Path) -> None:
    spool = sp.Spool(str(tmp_path))
    written = records(10)
    spool.append(written)
    spool.close()
    replayer = sp.Spool(str(tmp_path))
    for segment in replayer.replay():
        handed = segment.records()
        first = [next(handed) for _ in range(4)]
        segment.ack()
        next(handed)  # handed out, never acknowledged: the process "dies" here
        break
    assert first == written[:4]
    assert drain(str(tmp_path)) == (written[4:], 0)


def test_the_disk_budget_stores_what_fits(tmp_path: Path) -> None:
    one = len(sp.frame(records(1)[0]))
    spool = sp.Spool(str(tmp_path), max_bytes=one * 3)
    assert spool.append([records(1)[0]] * 5) == 3
    assert spool.append([records(1)[0]]) == 0
    spool.close()
    assert len(drain(str(tmp_path))[0]) == 3
    assert sp.Spool(str(tmp_path), max_bytes=one * 3).append([records(1)[0]]) == 1


def test_two_replayers_share_the_work_without_duplicates(tmp_path: Path) -> None:
    spool = sp.Spool(str(tmp_path), segment_bytes=500)
    written = records(400)
    for start in range(0, 400, 20):
        spool.append(written[start : start + 20])
    spool.close()
    results: list[list[bytes]] = [[], []]

    def replay(slot: int) -> None:
        results[slot] = drain(str(tmp_path))[0]

    threads = [threading.Thread(target=replay, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    both = results[0] + results[1]
    assert sorted(both) == sorted(written)


def run(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, bufsize=1
    )


WRITER = """
import json, os, sys, time
from hogkit.transport.spool import Spool, frame
spool = Spool(sys.argv[1], segment_bytes=4096)
for i in range(int(sys.argv[2])):
    spool.append([json.dumps({"uuid": f"e-{i}"}).encode()])
    print(i, flush=True)
if sys.argv[3] == "tear":
    segment = sorted(n for n in os.listdir(sys.argv[1]) if n.endswith(".seg"))[-1]
    fd = os.open(os.path.join(sys.argv[1], segment), os.O_WRONLY | os.O_APPEND)
    os.write(fd, frame(b'{"uuid": "torn"}')[:9])
print("ready", flush=True)
time.sleep(60)
"""

REPLAYER = """
import json, sys
from hogkit.transport.spool import Spool
spool = Spool(sys.argv[1])
got = []
for segment in spool.replay():
    got += [json.loads(r)["uuid"] for r in segment.records()]
    segment.ack()
print(json.dumps({"got": got, "torn": spool.torn}))
"""


def replay_in_new_process(directory: str) -> tuple[list[str], int]:
    child = run(REPLAYER, directory)
    out, _ = child.communicate(timeout=60)
    result = json.loads(out)
    return result["got"], result["torn"]


def test_kill_9_mid_record_then_replay_in_a_new_process(tmp_path: Path) -> None:
    writer = run(WRITER, str(tmp_path), "200", "tear")
    assert writer.stdout is not None
    lines: list[str] = []
    while not lines or lines[-1] not in ("ready", ""):
        lines.append(writer.stdout.readline().strip())
    assert lines[-1] == "ready" and lines[-2] == "199"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    got, torn = replay_in_new_process(str(tmp_path))
    assert got == [f"e-{i}" for i in range(200)]
    assert torn == 1
    assert replay_in_new_process(str(tmp_path)) == ([], 0)


def test_kill_9_at_a_random_moment_mid_burst(tmp_path: Path) -> None:
    writer = run(WRITER, str(tmp_path), "1000000", "no")
    assert writer.stdout is not None
    reported = -1
    for line in writer.stdout:
        reported = int(line)
        if reported >= 3000:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=30)
    got, torn = replay_in_new_process(str(tmp_path))
    # Every append that returned is there, once, in order; nothing after the kill is invented.
    assert got == [f"e-{i}" for i in range(len(got))]
    assert len(got) > reported
    assert torn <= 1
    assert replay_in_new_process(str(tmp_path)) == ([], 0)


def test_two_writer_processes_share_a_directory(tmp_path: Path) -> None:
    code = WRITER.replace("time.sleep(60)", "spool.close()")
    writers = [
        run(code.replace('f"e-{i}"', f'f"w{w}-{{i}}"'), str(tmp_path), "500", "no")
        for w in range(2)
    ]
    for writer in writers:
        writer.communicate(timeout=60)
    got, torn = replay_in_new_process(str(tmp_path))
    assert sorted(got) == sorted(f"w{w}-{i}" for w in range(2) for i in range(500))
    assert torn == 0


def test_fsync_policy_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        sp.Spool(str(tmp_path), fsync="sometimes")
    durable = sp.Spool(str(tmp_path), fsync="append")
    assert durable.append(records(3)) == 3
    durable.close()
    assert drain(str(tmp_path)) == (records(3), 0)
