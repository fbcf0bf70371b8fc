"""One process of a test fleet: a Client sharing definitions through Redis, evaluating flags
in a loop and reporting on stdout until its stdin closes.

    python fleet_child.py REDIS_URL HOST INTERVAL [follower]

Lines: `token <lock token>`, `defs <monotonic> <comma-joined flag keys>` whenever the
definitions in force change, `missing <monotonic>` when a flag that was loaded could not be
evaluated locally, `status <json>` at exit. Logs (INFO) go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time

from hogkit.fleet import RedisDefinitionCache
from hogkit.transport import Client


def main() -> None:
    redis_url, host, interval = sys.argv[1], sys.argv[2], float(sys.argv[3])
    follower = len(sys.argv) > 4 and sys.argv[4] == "follower"
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    logging.getLogger("hogkit").setLevel(logging.INFO)
    cache = RedisDefinitionCache(redis_url, "phc_fleet", interval=interval)
    client = Client(
        "phc_fleet",
        host=host,
        send=False,
        secret_key=None if follower else "phs_fleet",
        poll_interval=interval,
        flag_definition_cache_provider=cache,
        flag_definitions_follower_only=follower,
    )
    print("token", cache.token, flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    seen: object = None
    while not done.is_set():
        loaded = client.flag_service.flagset
        # Reading flags is what starts the client's polling, as in an application.
        values = client.evaluate_flags("someone", only_evaluate_locally=True).flag_values
        if loaded is not seen and loaded is not None:
            seen = loaded
            print("defs", time.monotonic(), ",".join(loaded.keys), flush=True)
        if seen is not None and not values:
            print("missing", time.monotonic(), flush=True)
        time.sleep(0.01)
    status = client.flag_definitions_status()
    client.shutdown()
    print("status", json.dumps({"source": status.source, "etag": status.etag}), flush=True)


if __name__ == "__main__":
    main()
