"""`exchange()` holds its caller no longer than the deadline, whatever the server does.

The bounds asserted here are correctness bounds: each faulty server would hold an unbounded
client for tens of seconds or forever, and the assertion allows the deadline plus a wide
margin for a loaded machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from hogkit.transport import deadline as dl
from httpserver import LoopbackServer, Reply, SilentListener, self_signed, unused_url

MARGIN = 2.0  # scheduling slack on a shared machine; every unbounded case takes 40 s or more
SLOW_BODY = b"x" * 200  # 1 byte every 0.2 s: 40 s in full


@pytest.fixture
def manager() -> Iterator[urllib3.PoolManager]:
    created = dl.pool_manager()
    yield created
    created.clear()


def timed(fn: object, *args: object, **kwargs: object) -> tuple[object, float]:
    started = time.monotonic()
    try:
        result: object = fn(*args, **kwargs)  # type: ignore[operator]
    except dl.ExchangeFailed as exc:
        result = exc
    return result, time.monotonic() - started


def post(manager: urllib3.PoolManager, url: str, seconds: float, body: bytes = b"{}") -> object:
    return dl.exchange(manager, "POST", url, deadline=time.monotonic() + seconds, body=body)


@pytest.mark.parametrize("part", ["body", "headers", "all"])
def test_a_trickling_server_is_cut_off_at_the_deadline(
    loopback: LoopbackServer, manager: urllib3.PoolManager, part: str
) -> None:
    loopback.script("/batch/", Reply.trickle(1, 0.2, part, body=SLOW_BODY))
    result, elapsed = timed(post, manager, loopback.url + "/batch/", 1.0)
    assert isinstance(result, dl.DeadlineExceeded)
    assert elapsed < 1.0 + MARGIN
    assert len(loopback.requests()) == 1


def test_a_hanging_server_is_cut_off_at_the_deadline(
    loopback: LoopbackServer, manager: urllib3.PoolManager
) -> None:
    loopback.script("/batch/", Reply.hang())
    result, elapsed = timed(post, manager, loopback.url + "/batch/", 0.5)
    assert isinstance(result, dl.DeadlineExceeded)
    assert elapsed < 0.5 + MARGIN


def test_a_listener_that_never_reads_is_cut_off(manager: urllib3.PoolManager) -> None:
    with SilentListener() as silent:
        result, elapsed = timed(post, manager, silent.url + "/batch/", 0.5, b"x" * 8_000_000)
    assert isinstance(result, dl.DeadlineExceeded)
    assert elapsed < 0.5 + MARGIN


def test_a_plain_pool_still_gets_a_bounded_body(loopback: LoopbackServer) -> None:
    plain = urllib3.PoolManager(retries=False)
    loopback.script("/batch/", Reply.trickle(1, 0.2, "body", body=SLOW_BODY))
    result, elapsed = timed(post, plain, loopback.url + "/batch/", 1.0)
    assert isinstance(result, dl.DeadlineExceeded)
    assert elapsed < 1.0 + MARGIN


@pytest.mark.parametrize(
    "reply",
    [Reply.garbage(), Reply.reset_after_body(), Reply.drop()],
    ids=["garbage", "reset-after-body", "close-after-body"],
)
def test_broken_answers_fail_fast_and_are_not_deadlines(
    loopback: LoopbackServer, manager: urllib3.PoolManager, reply: Reply
) -> None:
    loopback.script("/batch/", reply)
    result, _ = timed(post, manager, loopback.url + "/batch/", 30.0)
    assert isinstance(result, dl.ExchangeFailed)
    assert not isinstance(result, dl.DeadlineExceeded)


def test_accept_then_close_fails(loopback: LoopbackServer, manager: urllib3.PoolManager) -> None:
    loopback.accept_then_close()
    result, _ = timed(post, manager, loopback.url + "/batch/", 30.0)
    assert isinstance(result, dl.ExchangeFailed)
    assert not isinstance(result, dl.DeadlineExceeded)


def test_reset_while_sending_fails(loopback: LoopbackServer, manager: urllib3.PoolManager) -> None:
    loopback.script("/batch/", Reply.reset_mid_request(after=1024))
    result, _ = timed(post, manager, loopback.url + "/batch/", 30.0, b"x" * 32_000_000)
    assert isinstance(result, dl.ExchangeFailed)
    assert not loopback.requests()[0].complete


def test_refused_and_unresolvable(manager: urllib3.PoolManager) -> None:
    refused, _ = timed(post, manager, unused_url() + "/batch/", 30.0)
    assert isinstance(refused, dl.ExchangeFailed)
    assert not isinstance(refused, dl.DeadlineExceeded)
    unknown, elapsed = timed(post, manager, "http://no-such-host.invalid/batch/", 1.0)
    assert isinstance(unknown, dl.ExchangeFailed)
    assert elapsed < 1.0 + MARGIN


def test_answers_of_any_status_come_back_whole(
    loopback: LoopbackServer, manager: urllib3.PoolManager
) -> None:
    loopback.script(
        "/batch/",
        Reply.status_only(500),
        Reply.too_many(2),
        Reply.trickle(7, 0.001, "all", body=b"z" * 70),
    )
    url = loopback.url + "/batch/"
    first = post(manager, url, 10.0)
    second = post(manager, url, 10.0)
    third = post(manager, url, 10.0)
    assert isinstance(first, dl.Answer) and first.status == 500
    assert isinstance(second, dl.Answer) and second.headers["retry-after"] == "2"
    assert isinstance(third, dl.Answer) and (third.status, third.body) == (200, b"z" * 70)
    peers = {r.peer for r in loopback.requests()}
    assert len(peers) == 1  # one keep-alive connection served all three


def test_a_connection_cut_by_the_watchdog_is_not_reused(
    loopback: LoopbackServer, manager: urllib3.PoolManager
) -> None:
    loopback.script("/batch/", Reply.hang(), then=Reply())
    url = loopback.url + "/batch/"
    assert isinstance(timed(post, manager, url, 0.3)[0], dl.DeadlineExceeded)
    answer = post(manager, url, 10.0)
    assert isinstance(answer, dl.Answer) and answer.status == 200


def test_a_past_deadline_sends_nothing(
    loopback: LoopbackServer, manager: urllib3.PoolManager
) -> None:
    with pytest.raises(dl.DeadlineExceeded):
        dl.exchange(manager, "GET", loopback.url + "/flags/", deadline=time.monotonic() - 1)
    assert loopback.requests() == []


def test_failures_never_repeat_credentials(manager: urllib3.PoolManager) -> None:
    url = unused_url().replace("http://", "http://user:hunter2@") + "/batch/?token=phx_secret"
    with pytest.raises(dl.ExchangeFailed) as caught:
        post(manager, url, 5.0)
    text = str(caught.value)
    assert "hunter2" not in text and "phx_secret" not in text and "/batch/" in text
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_watchdog_fires_only_live_watches() -> None:
    dog = dl.Watchdog()
    done, cancelled = dog.arm(time.monotonic() + 0.05), dog.arm(time.monotonic() + 0.05)
    assert cancelled.cancel() is False
    deadline = time.monotonic() + 10
    while (not done.fired or dog.pending()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert done.fired and not cancelled.fired
    assert dog.pending() == 0  # a cancelled watch leaves the heap when its instant passes


def test_tls_exchanges_are_verified_and_bounded(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    trusting = dl.pool_manager(ca_certs=cert)
    with LoopbackServer(tls=(cert, key)) as server:
        unverified, _ = timed(post, dl.pool_manager(), server.url + "/batch/", 10.0)
        assert isinstance(unverified, dl.ExchangeFailed)
        assert "TLS" in str(unverified)
        answer = post(trusting, server.url + "/batch/", 10.0)
        assert isinstance(answer, dl.Answer) and answer.status == 200
        server.script("/batch/", Reply.trickle(1, 0.2, "body", body=SLOW_BODY))
        result, elapsed = timed(post, trusting, server.url + "/batch/", 1.0)
        assert isinstance(result, dl.DeadlineExceeded)
        assert elapsed < 1.0 + MARGIN


def test_an_oversized_answer_is_refused(
    loopback: LoopbackServer, manager: urllib3.PoolManager
) -> None:
    loopback.script("/flags/definitions", Reply(200, b"x" * 5000), then=Reply(200, b"y" * 1000))
    url = loopback.url + "/flags/definitions"
    with pytest.raises(dl.ExchangeFailed, match="larger than 1000 bytes"):
        dl.exchange(manager, "GET", url, deadline=time.monotonic() + 10, max_response_bytes=1000)
    answer = dl.exchange(
        manager, "GET", url, deadline=time.monotonic() + 10, max_response_bytes=1000
    )
    assert answer.body == b"y" * 1000
