"""Regex filters: hogkit's bounded matching vs posthog==7.91.1's `match_property`, side by side.

Three tables:
- realistic patterns against typical property values (emails, paths, versions): per-match
  CPU time on each side and the ratio, and the longest text hogkit gives Python's search
  for the pattern (longer ones run the linear-time program);
- catastrophic patterns against `a` * n + `!`: the reference's time grows exponentially
  (stopped at small n), hogkit's linearly, up to 10 KB;
- how many of the realistic patterns each policy would send to the server: hogkit's
  (none: the linear program answers all of them) vs rejecting every pattern Python could
  backtrack on for more than quadratic time (a repeated group, or two or more repetitions).

Before timing, every realistic case is checked to give the reference's answer.
Times are CPU time (`time.process_time`), best of several runs.

Run: .venv/bin/python benchmarks/bench_regex.py [--quick]
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from hogkit.core.operators import compile_property_filter
from hogkit.core.regex import GatedPattern, gate_pattern
from posthog.feature_flags import InconclusiveMatchError, match_property

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
QUICK = "--quick" in sys.argv

REALISTIC = [
    "@posthog\\.com$",
    "^.*@(gmail|yahoo|hotmail)\\.com$",
    "^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$",
    "^[a-z]+-[0-9]+$",
    ".*beta.*",
    "^/(app|dashboard)/",
    "^(us|eu|ap)-(east|west)-[0-9]$",
    "^\\d{3}-\\d{4}$",
    "^v?1\\.[0-9]+\\.[0-9]+$",
    "(?:chrome|firefox|safari)",
    "^(?!x)",
    "^[A-Z]{2}$",
    "test|staging|dev",
    "^user_[0-9]{4,8}$",
    "^https?://[^/]+/(docs|blog)/.*$",
    "^(www\\.)?[a-z0-9-]+\\.example\\.com$",
    ".*@(acme|globex)\\.com$",
    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
]
VALUES = [
    "jane.doe@posthog.com",
    "someone@gmail.com",
    "order-12345",
    "/dashboard/insights/42",
    "us-east-1",
    "555-1234",
    "v1.24.3",
    "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0",
    "DE",
    "user_004211",
    "https://www.example.com/docs/getting-started?utm_source=newsletter&utm_medium=email",
    "5f0c6a2e-8d7b-4c1e-9a3f-2b6d8e4f1a7c",
    "a" * 200,
]
CATASTROPHIC = ["(a|aa)+$", "(a|a)*b", "a*a*a*a*a*a*b", ".*.*.*.*.*.*=", "(ab|a|b)*c"]


def best(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(3 if QUICK else 5):
        start = time.process_time()
        for _ in range(repeat):
            run()
        times.append((time.process_time() - start) / repeat)
    return min(times)


def reference(pattern: str, value: str) -> Any:
    try:
        return match_property({"key": "p", "operator": "regex", "value": pattern}, {"p": value})
    except InconclusiveMatchError as error:
        return error.reason.value


def ours(pattern: str) -> Callable[[str], Any]:
    matcher = compile_property_filter(
        {"key": "p", "operator": "regex", "value": pattern}, matching_version=1
    )

    def run(value: str) -> Any:
        result = matcher.match({"p": value}, NOW)
        return result if isinstance(result, bool) else result.value

    return run


def realistic() -> None:
    print("realistic patterns (microseconds per match, all values)")
    print(f"{'pattern':44} {'strategy':9} {'hogkit':>8} {'posthog':>8} {'ratio':>6}")
    repeat = 20 if QUICK else 100
    for pattern in REALISTIC:
        match = ours(pattern)
        for value in VALUES:
            assert match(value) == reference(pattern, value), (pattern, value)
        gated = gate_pattern(pattern)
        strategy = (
            f"<={gated._program.python_limit}" if isinstance(gated, GatedPattern) else "server"
        )
        mine = best(lambda m=match: [m(v) for v in VALUES], repeat)
        theirs = best(lambda p=pattern: [reference(p, v) for v in VALUES], repeat)
        print(
            f"{pattern:44} {strategy:9} {mine * 1e6:8.1f} {theirs * 1e6:8.1f} {theirs / mine:6.2f}"
        )


def catastrophic() -> None:
    print("\ncatastrophic patterns against 'a' * n + '!' (milliseconds per match)")
    print(f"{'pattern':16} {'n':>6} {'hogkit':>9} {'posthog':>9}")
    for pattern in CATASTROPHIC:
        match = ours(pattern)
        for n in (16, 20, 22, 1_000, 10_000):
            text = "a" * n + "!"
            mine = best(lambda t=text, m=match: m(t), 1)
            theirs = "not run"
            if n <= 22:
                theirs = f"{best(lambda t=text, p=pattern: reference(p, t), 1) * 1e3:9.2f}"
            print(f"{pattern:16} {n:6} {mine * 1e3:9.2f} {theirs:>9}")


def server_share() -> None:
    gated = [gate_pattern(p) for p in REALISTIC]
    local = [g for g in gated if isinstance(g, GatedPattern)]
    unsafe = [g for g in local if g._program.loops > 1 or g._program.python_limit < 0]
    print(f"\nrealistic patterns: {len(REALISTIC)}")
    print(
        f"  sent to the server by hogkit (linear program for the rest): {len(REALISTIC) - len(local)}"
    )
    print(
        f"  sent to the server if every unsafe pattern were rejected:   {len(REALISTIC) - len(local) + len(unsafe)}"
    )


def main() -> int:
    warnings.simplefilter("ignore")
    realistic()
    catastrophic()
    server_share()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
