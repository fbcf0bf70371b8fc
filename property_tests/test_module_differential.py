"""Module-level differential: `import hogkit as posthog` against posthog 7.91.1's own module.

Applications configure a default client through module settings (`posthog.api_key`,
`host`, `debug`, `disabled`, `before_send`, ...) and call module functions (`capture`,
`get_feature_flag`, `evaluate_flags`, `flush`, `shutdown`, the context functions, ...).
Each example draws a sequence of such steps (see `module_strategies`): settings changed
before and after the default client is built, to usable and odd values (blank and padded
keys, `disabled=None`, `debug=1`), calls with arguments by position and by keyword, flushes,
joins, shutdowns followed by more calls, `default_client` assigned an application's own
client, cleared, or set to False, and calls made inside `new_context()`.

Every module setting posthog's `setup()` hands its client is drawn (`module_strategies.
SETTINGS`), but for `metrics`, `traces` and `capture_trace_context`, outside hogkit's scope:
`on_error`, the definitions poll and `/flags` request options, exception autocapture and its
rate limits, `project_root`, `in_app_modules`, code variables and their patterns,
`capture_mode`, `before_send` hooks that drop, edit, rename, replace, raise or answer
something that is not an event, and a `flag_definition_cache_provider` that hands out
definitions, asks for a download, raises from every method, answers with values of the
wrong type, or hands out definitions whose group types or cohorts are not JSON objects
(what each provider is handed is compared too). Definitions are also set on the default client itself
(`feature_flags`, `group_type_mapping`, `cohorts`, in any order, random documents from
`strategies.documents`), then read back, read through, and replaced by a download.

Every step runs on `posthog`, then on `hogkit`, against one loopback server that tells the
two apart by their project keys (a key names the SDK, the example and which key the step
set, so a default client built from the wrong setting shows). After each step both must
agree on the answer, on raising or not, and hogkit may warn only where posthog warns. At
the end, every client either module used is flushed and the server's record of each SDK
must agree: the events, the `/flags` bodies, the definition downloads and the remote-config
requests, each counted per key.

Module settings are process-wide: each example starts both modules from the settings they
had before it, and puts them back afterwards with every client it built shut down.

What is relaxed, and why (nothing else is):

- `capture_mode` is never `v1`: hogkit sends events to `/batch/` only and logs that v1 is
  not supported (README, migration table).

- `flush()` and `shutdown()` return whether everything was delivered, where posthog
  returns None (README, "What differs on purpose": every wait has a deadline and says how
  it went); their answers are not compared.
- Events are compared without `uuid`, `timestamp`, `$lib` and `$lib_version`, personless
  ids as a marker (as the client differential does, and in a `/flags` body asking for
  such an event's flags), and an `$exception` event by its exception types and messages:
  the stack frames are those of two different SDKs' calls.
- Events sent by different clients reach the server in no promised order (a background
  sender flushes when it likes), so each SDK's events are compared as a sorted list.
- A context's device id is left out of the events: hogkit adds `$device_id` to every
  event captured in a context that has one, posthog to flag reads only (README, "events
  inside a context").
- A flag read on a default client shut down (or joined) before it downloaded definitions
  is not made on either SDK: posthog downloads them then, on a client that is shut down,
  and starts a new poller thread that nothing stops; hogkit starts nothing after a
  shutdown and asks `/flags`.
- A shut-down (or joined) client's `capture(..., send_feature_flags=True)` is not made:
  posthog still asks `/flags` for the flags of an event it then drops, a request for
  nothing; hogkit refuses the event first.
- `load_feature_flags()` says whether the server answered (hogkit's Client does), where
  posthog returns None; its answer is not compared.
- `capture(..., send_feature_flags=True)` names a person: a personless event's flags are
  those of a fresh random id, which lands in a different arm of a rollout in each SDK
  (tests/test_compat_module_differential.py checks that both ask for the id they send).
- Each call gets its own copy of its arguments: posthog's `set` and `set_once` inside a
  context write the context's tags into the caller's `properties` dict (hogkit leaves it
  alone), and the next call would see them.
- `group_identify` is always given a `distinct_id`: without one posthog sends a new
  random id per call, hogkit `$<type>_<key>` (README, "What differs on purpose").
- hogkit's deprecation warnings come once per method per process (README), so a step
  only checks that hogkit warns of nothing posthog does not.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import sys
import threading
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, NamedTuple

import posthog
from client_compare import describe, flags_bodies, plain
from httpserver import LoopbackServer, Reply, Request
from hypothesis import HealthCheck, example, given, settings
from module_strategies import (
    FLAG_READS,
    ODD_TABLES,
    READ_KEYS,
    REMOTE_KEY,
    SECRET,
    SETTINGS,
    Example,
    Explicit,
    Hook,
    Key,
    Problem,
    Provider,
    Step,
    answer,
    cached_document,
    document,
    examples,
)
from twin import event_differences, normalized, personless_marked, sdk_key, snapshot_reads

import hogkit

# Each example builds a few clients and makes a few dozen loopback requests: 150 of them
# take seconds; HYPOTHESIS_PROFILE=deep runs the profile's count.
CI_EXAMPLES = 150

VOLATILE_BODY_FIELDS = frozenset({"api_key", "sent_at"})
REMOTE_PATH = f"/api/projects/@current/feature_flags/{REMOTE_KEY}/remote_config"
EVENT_CALLS = frozenset(
    {"capture", "set", "set_once", "alias", "group_identify", "capture_exception"}
)
UNCOMPARED_ANSWERS = frozenset({"flush", "shutdown", "load_feature_flags"})
ENDINGS = frozenset({"join", "shutdown"})
SDKS = {"ref": posthog, "kit": hogkit}
PROBLEMS: dict[str, type[Exception]] = {"ValueError": ValueError, "KeyError": KeyError}


# The distinct id the "replace" hook gives every event, personless ones included.
REPLACED_ID = "replaced"
HOOK_IDS = frozenset({REPLACED_ID})


def _drop(event: dict[str, Any]) -> dict[str, Any] | None:
    return None if event.get("event") == "drop me" else event


def _edit(event: dict[str, Any]) -> dict[str, Any]:
    event.setdefault("properties", {})["edited"] = True
    return event


def _raise(event: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("before_send failed")


def _rename(event: dict[str, Any]) -> dict[str, Any]:
    event["event"] = "renamed"
    return event


def _noted(*reported: Any) -> None:
    """An `on_error` callback that takes what it is given and does nothing with it."""


HOOKS: dict[str, Callable[..., Any]] = {
    "drop": _drop,
    "edit": _edit,
    "raise": _raise,
    "none": lambda event: None,
    "rename": _rename,
    "replace": lambda event: {**event, "distinct_id": REPLACED_ID},
    "text": lambda event: "not an event",
    "noted": _noted,
}


class CacheProvider:
    """A `flag_definition_cache_provider` of one `Provider` kind (see
    `module_strategies.PROVIDER_KINDS`); keeps the flag keys of each download it is handed."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.received: list[list[Any]] = []

    def should_fetch_flag_definitions(self) -> Any:
        if self.kind == "raises":
            raise RuntimeError("cache down")
        return {"fetches": True, "odd": 0}.get(self.kind, False)

    def get_flag_definitions(self) -> Any:
        if self.kind == "raises":
            raise RuntimeError("cache down")
        if self.kind == "serves" or self.kind in ODD_TABLES:
            return {**cached_document(), **ODD_TABLES.get(self.kind, {})}
        if self.kind == "malformed":
            return {"flags": "nope", "cohorts": []}
        return ["flags"] if self.kind == "odd" else None

    def on_flag_definitions_received(self, data: Any) -> None:
        self.received.append(sorted(str(f.get("key")) for f in data.get("flags") or []))
        if self.kind == "raises":
            raise RuntimeError("cache down")

    def shutdown(self) -> None:
        if self.kind == "raises":
            raise RuntimeError("cache down")


# -- one example's world ------------------------------------------------------------------------


class Outcome(NamedTuple):
    answer: Any
    raised: str | None
    warned: frozenset[str]


class Side:
    """One SDK's module during an example: makes the markers of a step concrete, runs the
    step, and keeps every client the module used, to flush and shut them down at the end."""

    def __init__(self, sdk: str, number: int, server: LoopbackServer) -> None:
        self.sdk = sdk
        self.module: ModuleType = SDKS[sdk]
        self.number = number
        self.server = server
        self.clients: list[Any] = []
        self.providers: list[CacheProvider] = []
        self.ended: list[Any] = []  # clients shut down (or joined)
        self.spent: list[Any] = []  # clients shut down before they downloaded definitions

    def key(self, tag: str) -> str:
        return f"phc_{self.sdk}_{self.number}_{tag}"

    def value(self, name: str, value: Any) -> Any:
        if isinstance(value, Key):
            return f"  {self.key(value.tag)} " if value.padded else self.key(value.tag)
        if isinstance(value, Hook):
            return HOOKS[value.name]
        if isinstance(value, Explicit):
            client = self.module.Client(
                self.key(value.tag),
                host=self.server.url,
                sync_mode=True,
                personal_api_key=SECRET,
                poll_interval=3600,
                feature_flags_request_max_retries=0,
            )
            self.clients.append(client)
            return client
        if isinstance(value, Problem):
            return PROBLEMS[value.kind](value.message)
        if isinstance(value, Provider):
            self.providers.append(CacheProvider(value.kind))
            return self.providers[-1]
        if name == "host":
            return self.server.url + value
        return value

    def configure(self) -> None:
        """The settings every example starts from: a usable key, the loopback server,
        synchronous sends, and definitions polled once."""
        for name, value in (
            ("api_key", Key("a")),
            ("host", ""),
            ("sync_mode", True),
            ("personal_api_key", SECRET),
            ("poll_interval", 3600),
            ("feature_flags_request_timeout_seconds", 2.0),
            ("feature_flags_request_max_retries", 0),
            ("default_client", None),
        ):
            setattr(self.module, name, self.value(name, value))

    def run(self, step: Step) -> Outcome:
        excluded = self._excluded(step, getattr(self.module, "default_client", None))
        if excluded:
            return Outcome(f"not run: {excluded}", None, frozenset())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                answer, raised = self._perform(step), None
            except Exception as error:
                answer, raised = None, type(error).__name__
        client = getattr(self.module, "default_client", None)
        self._keep(client)
        if step.kind == "call" and step.name in ENDINGS:
            self.ended.append(client)
            if not client.feature_flag_definitions():
                self.spent.append(client)
        return Outcome(answer, raised, frozenset(w.category.__name__ for w in caught))

    def _excluded(self, step: Step, client: Any) -> str | None:
        """Why `step` is not made on either SDK (see the module's docstring), if it is not."""
        if step.kind != "call":
            return None
        if step.name in FLAG_READS and _among(client, self.spent):
            return "a flag read after shutdown, definitions never downloaded"
        if step.kwargs.get("send_feature_flags") and _among(client, self.ended):
            return "flags for an event a shut-down client drops"
        return None

    def _keep(self, client: Any) -> None:
        if client and not _among(client, self.clients):
            self.clients.append(client)

    def _perform(self, step: Step) -> Any:
        if step.kind in ("set", "assign"):
            self._keep(getattr(self.module, "default_client", None))
            setattr(self.module, step.name, self.value(step.name, step.args[0]))
            return None
        if step.kind == "attr":
            client = self.module.setup()
            for name, value in copy.deepcopy(step.args):
                setattr(client, name, value)
            return None
        if step.kind == "context":
            return self._context(step)
        if step.kind == "raise":
            raise ValueError(*step.args)
        args = [self.value("", a) for a in copy.deepcopy(step.args)]
        result = getattr(self.module, step.name)(*args, **copy.deepcopy(step.kwargs))
        return self._view(step.name, result)

    def _context(self, step: Step) -> Any:
        views = []
        with self.module.new_context(**step.kwargs):
            for name, *args in step.args:
                getattr(self.module, name)(*args)
            for inner in step.inner:
                outcome = self.run(inner)
                views.append(outcome.answer)
                if outcome.raised:
                    raise ValueError(outcome.raised)
        return views

    def _view(self, name: str, result: Any) -> Any:
        """An answer as plain data both SDKs can produce."""
        if name in EVENT_CALLS:
            return "an event id" if _is_uuid(result) else plain(result)
        if name in UNCOMPARED_ANSWERS:
            return None
        if name == "setup":
            return "the default client" if result is self.module.default_client else repr(result)
        if name == "evaluate_flags":
            return plain(snapshot_reads(result, READ_KEYS))
        if name == "get_feature_flag_result" and result is not None:
            return plain([result.key, result.enabled, result.variant, result.payload])
        if name == "get_feature_flag_evaluation_runtime":
            return plain(getattr(result, "value", result))
        if name == "get_feature_flag_keys_by_evaluation_runtime":
            return sorted(result)
        return plain(result)

    def finish(self) -> None:
        """Flush every client the module used, so the server has all they hold."""
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.flush()

    def close(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                client.shutdown()

    # -- what the server saw from this SDK ------------------------------------------------------

    def tag(self, request: Request) -> str | None:
        """Which of this SDK's keys sent `request` (None: the other SDK's)."""
        prefix = self.key("")
        key = sdk_key(request)
        return key[len(prefix) :] if key.startswith(prefix) else None

    def record(self) -> dict[str, Any]:
        events, personless = [], set()
        for request in self.server.requests("/batch/"):
            tag = self.tag(request)
            if tag is not None:
                batch = [_comparable(normalized(e)) for e in request.json()["batch"]]
                marked = personless_marked(batch, HOOK_IDS)
                personless |= {e["distinct_id"] for e in batch} - {e["distinct_id"] for e in marked}
                events += [{"key": tag, **event} for event in marked]
        bodies = [
            {"key": tag, **body}
            for tag in sorted({self.tag(r) for r in self.server.requests("/flags/")} - {None})
            for body in flags_bodies(self.server, self.key(tag), VOLATILE_BODY_FIELDS)
        ]
        for body in bodies:  # asked for the flags of a personless event's id
            if body.get("distinct_id") in personless:
                body["distinct_id"] = "<personless>"
        return {
            "events": sorted(events, key=_canonical),
            "flags bodies": sorted(bodies, key=_canonical),
            "downloads": self._count("/flags/definitions"),
            "remote configs": self._count(REMOTE_PATH),
            "cached": [provider.received for provider in self.providers],
        }

    def _count(self, path: str) -> Counter[str]:
        """How many requests to `path` each of this SDK's keys made."""
        return Counter(t for r in self.server.requests(path) if (t := self.tag(r)) is not None)


def _among(client: Any, clients: list[Any]) -> bool:
    return client is not None and any(client is c for c in clients)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _is_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _comparable(event: dict[str, Any]) -> dict[str, Any]:
    """An event without a context's `$device_id` (which hogkit adds on purpose), and an
    exception event (under any name) with its exception list as (type, message) pairs, without the
    properties read off the stack (frames, fingerprint)."""
    props = {k: v for k, v in event["properties"].items() if k != "$device_id"}
    if "$exception_list" in props:  # a `before_send` hook may have renamed the event
        exceptions = props.pop("$exception_list")
        props.pop("$exception_fingerprint", None)
        props["$exception_list"] = [[e.get("type"), e.get("value")] for e in exceptions]
    return {**event, "properties": props}


# -- keeping examples apart ---------------------------------------------------------------------


def _settings(module: ModuleType) -> dict[str, Any]:
    """A module's settings: the public names that are plain values rather than code, and
    every setting a step may change (callbacks included)."""
    return {
        name: value
        for name, value in vars(module).items()
        if name in SETTINGS
        or (
            not name.startswith("_")
            and not callable(value)
            and not isinstance(value, ModuleType)
            and name != "default_client"
        )
    }


@contextlib.contextmanager
def isolated(sides: list[Side]) -> Iterator[None]:
    """Both modules' settings, `default_client` and the logging set-up as they were, once
    the example is over, with every client it used shut down."""
    saved = {m: (_settings(m), m.default_client) for m in SDKS.values()}
    hooks = (sys.excepthook, threading.excepthook)  # exception autocapture installs its own
    root_handlers = list(logging.root.handlers)
    levels = {n: logging.getLogger(n).level for n in ("posthog", "hogkit")}
    disabled = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        for side in sides:
            side.close()
        for module, (values, client) in saved.items():
            for name, value in values.items():
                setattr(module, name, value)
            module.default_client = client
        sys.excepthook, threading.excepthook = hooks
        logging.root.handlers[:] = root_handlers
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        logging.disable(disabled)


class Bench:
    """A loopback server per example: the definitions, the `/flags` answer and a remote
    config payload, the same for both SDKs."""

    def __init__(self, example: Example) -> None:
        self.server = LoopbackServer()
        self.server.handle("/flags/definitions", lambda r: Reply.json(document(example.local)))
        self.server.handle("/flags/", lambda r: Reply.json(answer()))
        self.server.handle(REMOTE_PATH, lambda r: Reply.json({"colour": "blue"}))


_numbers = itertools.count()


def _step_text(step: Step) -> str:
    return f"{step.kind} {step.name} {step.args!r} {step.kwargs!r}"


def check_example(example: Example) -> None:
    bench = Bench(example)
    number = next(_numbers)
    sides = [Side("ref", number, bench.server), Side("kit", number, bench.server)]
    try:
        with isolated(sides):
            ref, kit = sides
            ref.configure()
            kit.configure()
            for i, step in enumerate(example.steps):
                expected, actual = ref.run(step), kit.run(step)
                where = f"step #{i} {_step_text(step)}\n{describe(example)}"
                assert actual.answer == expected.answer, (
                    f"posthog {expected.answer}, hogkit {actual.answer}: {where}"
                )
                assert (actual.raised is None) == (expected.raised is None), (
                    f"posthog raised {expected.raised}, hogkit {actual.raised}: {where}"
                )
                assert actual.warned <= expected.warned, (
                    f"posthog warned {set(expected.warned)}, hogkit {set(actual.warned)}: {where}"
                )
            ref.finish()
            kit.finish()
            compare_records(ref.record(), kit.record(), describe(example))
    finally:
        bench.server.close()


def compare_records(ref: dict[str, Any], kit: dict[str, Any], context: str) -> None:
    assert kit["events"] == ref["events"], (
        f"{event_differences(ref['events'], kit['events'])}\n{context}"
    )
    assert kit["flags bodies"] == ref["flags bodies"], (
        f"/flags bodies: posthog {ref['flags bodies']}, hogkit {kit['flags bodies']}\n{context}"
    )
    assert kit["remote configs"] == ref["remote configs"], (
        f"remote configs: posthog {ref['remote configs']}, hogkit {kit['remote configs']}\n{context}"
    )
    assert kit["downloads"] == ref["downloads"], (
        f"definitions: posthog {ref['downloads']}, hogkit {kit['downloads']}\n{context}"
    )
    assert kit["cached"] == ref["cached"], (
        f"handed to cache providers: posthog {ref['cached']}, hogkit {kit['cached']}\n{context}"
    )


@settings(
    max_examples=max(settings.default.max_examples, CI_EXAMPLES),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(example=examples())
# A hook giving a personless event an id of its own: compared as it is, not as a marker.
@example(
    example=Example(
        local=False,
        steps=(
            Step("set", "before_send", (Hook("replace"),)),
            Step("call", "capture", ("signed up",)),
        ),
    )
)
def test_module_api_matches_posthog(example: Example) -> None:
    check_example(example)
