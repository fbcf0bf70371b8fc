"""The `$feature_flag_called` dedup cache: one report per (distinct id, flag, value, groups),
bounded memory whatever the traffic, and a released claim is reported again."""

from __future__ import annotations

import sys
import threading
from typing import Any

from hogkit.core.flag_called import report_of
from hogkit.transport.dedup import DEFAULT_CAPACITY, DEFAULT_MAX_REPORTS, FlagCalledCache


def key(
    did: str, flag: str = "f", value: bool | str | None = True, groups: dict[str, Any] | None = None
) -> tuple[int, int]:
    return report_of(did, flag, value, groups)


def test_same_report_claimed_once_and_new_value_claimed_again() -> None:
    cache = FlagCalledCache()
    assert cache.reserve(*key("u1")) is True
    assert cache.reserve(*key("u1")) is False
    assert cache.reserve(*key("u1", value="variant")) is True
    assert cache.reserve(*key("u1", value=False)) is True
    assert cache.reserve(*key("u2")) is True
    assert cache.reserve(*key("u1", flag="other")) is True


def test_true_and_the_string_true_are_different_values() -> None:
    cache = FlagCalledCache()
    assert cache.reserve(*key("u", value=True))
    assert cache.reserve(*key("u", value="True"))
    assert cache.reserve(*key("u", value=None))
    assert cache.reserve(*key("u", value="None"))


def test_groups_are_part_of_the_key_in_any_order() -> None:
    cache = FlagCalledCache()
    assert cache.reserve(*key("u", groups={"company": "a", "team": "b"}))
    assert not cache.reserve(*key("u", groups={"team": "b", "company": "a"}))
    assert cache.reserve(*key("u", groups={"company": "other"}))
    assert cache.reserve(*key("u"))


def test_released_claim_is_reported_again() -> None:
    cache = FlagCalledCache()
    assert cache.reserve(*key("u"))
    cache.release(*key("u"))
    assert not cache.contains(*key("u"))
    assert cache.reserve(*key("u"))


def test_least_recently_used_user_is_evicted_first() -> None:
    cache = FlagCalledCache(capacity=3)
    for did in ("a", "b", "c"):
        cache.reserve(*key(did))
    assert not cache.reserve(*key("a"))  # touches "a": "b" is now the oldest
    cache.reserve(*key("d"))
    assert len(cache) == 3
    assert cache.contains(*key("a"))
    assert not cache.contains(*key("b"))
    assert cache.contains(*key("c")) and cache.contains(*key("d"))


def test_keys_per_user_are_bounded_oldest_first() -> None:
    cache = FlagCalledCache(keys_per_user=2)
    cache.reserve(*key("u", flag="1"))
    cache.reserve(*key("u", flag="2"))
    cache.reserve(*key("u", flag="3"))
    assert not cache.contains(*key("u", flag="1"))
    assert cache.contains(*key("u", flag="2")) and cache.contains(*key("u", flag="3"))


def test_memory_stays_bounded_under_a_million_distinct_ids() -> None:
    cache = FlagCalledCache(capacity=1_000)
    for i in range(200_000):
        cache.reserve(*key(f"user-{i}"))
    assert len(cache) == 1_000
    inner = cache._users  # the structure that would grow
    size = sys.getsizeof(inner) + sum(sys.getsizeof(v) for v in inner.values())
    for i in range(200_000, 1_000_000, 7):
        cache.reserve(*key(f"user-{i}"))
    assert len(cache) == 1_000
    later = sys.getsizeof(inner) + sum(sys.getsizeof(v) for v in inner.values())
    assert later <= size * 1.5
    assert DEFAULT_CAPACITY == 50_000


def test_reports_in_all_are_bounded_least_recently_used_users_first() -> None:
    cache = FlagCalledCache(max_reports=10)
    for did in ("a", "b", "c"):
        for flag in "1234":
            assert cache.reserve(*key(did, flag=flag))
    # Twelve reports: "a", the least recently used, went whole; the others are kept.
    assert len(cache) == 2
    assert not any(cache.contains(*key("a", flag=flag)) for flag in "1234")
    assert all(cache.contains(*key(did, flag=f)) for did in "bc" for f in "1234")
    assert not cache.reserve(*key("b", flag="1"))  # touches "b": "c" is now the oldest
    for flag in "123":  # the third makes eleven
        assert cache.reserve(*key("d", flag=flag))
    assert len(cache) == 2 and not cache.contains(*key("c", flag="1"))
    assert cache.contains(*key("b", flag="4")) and cache.contains(*key("d", flag="3"))
    # A forgotten report is reported again, as a new one.
    assert cache.reserve(*key("a", flag="1"))


def test_released_reports_and_evicted_users_leave_the_count() -> None:
    cache = FlagCalledCache(capacity=2, max_reports=3)
    assert cache.reserve(*key("a")) and cache.reserve(*key("b"))
    for _ in range(100):  # claims given back take no room
        assert cache.reserve(*key("c", flag="x"))
        cache.release(*key("c", flag="x"))
    assert cache.contains(*key("b"))
    # Users evicted by the users bound take their reports with them: three users in
    # turn, one report each, never push out the two most recent.
    for did in ("d", "e", "f"):
        assert cache.reserve(*key(did))
    assert len(cache) == 2 and cache.contains(*key("e")) and cache.contains(*key("f"))
    cache.clear()
    for did in ("g", "h"):
        cache.reserve(*key(did, flag="1"))
        cache.reserve(*key(did, flag="2"))
    assert len(cache) == 1 and cache.contains(*key("h", flag="2"))  # four reports: "g" went


def test_many_flags_for_many_people_stay_within_the_reports_bound() -> None:
    cache = FlagCalledCache(max_reports=10_000)
    for i in range(20_000):
        for flag in range(10):
            cache.reserve(*key(f"user-{i}", flag=str(flag)))
    held = sum(len(reports) for reports in cache._users.values())  # what would grow
    assert held <= 10_000
    assert len(cache) == 1_000  # the most recent thousand people, ten reports each
    assert cache.contains(*key("user-19999", flag="9"))
    assert DEFAULT_MAX_REPORTS == 500_000


def test_concurrent_claims_of_one_report_succeed_once() -> None:
    cache = FlagCalledCache()
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        for i in range(500):
            wins.append(cache.reserve(*key(f"u{i}")))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 500


def test_group_values_compare_as_text_and_keys_cannot_run_into_values() -> None:
    cache = FlagCalledCache()
    assert cache.reserve(*key("u", groups={"team": 5}))
    assert not cache.reserve(*key("u", groups={"team": "5"}))
    assert cache.reserve(*key("u", flag="ab", value="c"))
    assert cache.reserve(*key("u", flag="a", value="bc"))
    assert cache.reserve(*key("u", flag="a\x00", value="b"))
    assert cache.reserve(*key("u", flag="a", value="\x00b"))
    assert cache.reserve(*key("u", flag="x", groups={"a": "b"}))
    assert cache.reserve(*key("u", flag="x", groups={"a": "b", "c": "d"}))
    assert cache.reserve(*key("\udcff-lone-surrogate"))  # odd text still hashes


def test_concurrent_hits_and_evictions_stay_consistent() -> None:
    cache = FlagCalledCache(capacity=50, keys_per_user=4)
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def churn(offset: int) -> None:
        barrier.wait()
        try:
            for i in range(3_000):
                did = f"u{(i * 7 + offset) % 120}"
                cache.reserve(*key(did, flag=str(i % 6)))
                if i % 5 == 0:
                    cache.release(*key(did, flag=str(i % 6)))
        except BaseException as exc:  # the test fails below with whatever was raised
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache) <= 50
    assert all(len(seen) <= 4 for seen in cache._users.values())
