"""One Celery app run twice: under posthog 7.91.1's integration and client, then hogkit's.

`run_side(side, example)` instruments one SDK's `PosthogCeleryIntegration`, publishes the
example's tasks one after another (each from inside the producer contexts it draws), waits
for each to finish on the module's worker (or runs it eagerly), then shuts the integration
down, so its signal handlers never see the other SDK's tasks and none outlive the run.
It returns what the loopback server received from that SDK, what the task filter was asked
and what each task ended as, with the run's random task ids replaced by their order.

Tasks follow a plan (a JSON argument): tags and events inside the task, events from the
task's own `on_*`/`after_return` hooks, and an outcome (a return value, an exception of
several kinds, retries that end either way, a rejection or an ignore).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import posthog
import posthog.integrations.celery as ref_celery
from celery import Celery, Task, signals
from celery.exceptions import Ignore, Reject
from celery.result import AsyncResult
from hogkit.integrations import celery as kit_celery
from httpserver import LoopbackServer
from twin import KitClient, context_tags_in_order, normalized, personless_marked, sdk_key

import hogkit

__all__ = [
    "TASK_NAMES",
    "Layer",
    "Observed",
    "Options",
    "Side",
    "Sides",
    "TaskRun",
    "app",
    "celery_sides",
    "run_both",
    "run_side",
]

app = Celery("celerydiff", broker="memory://", backend="cache+memory://")
app.conf.task_default_queue = "celerydiff-q"
# The worker polls the in-memory broker this often (kombu's default is once a second).
app.conf.broker_transport_options = {"polling_interval": 0.01}

TASK_NAMES = ("diff.plain", "diff.ünï.cödé", "diff.with space", "x")

# How long one task may take on the worker before the example fails (a hung run, not a
# timing threshold: every task here ends in milliseconds).
TASK_WAIT = 30.0

# The properties whose values are clock readings: compared for presence only.
DURATIONS = frozenset({"celery_task_duration_ms"})


class TaskError(Exception):
    """An application's own exception, with more than one argument."""


class Unprintable(Exception):
    """An exception whose text cannot be read."""

    def __str__(self) -> str:
        raise RuntimeError("no text for you")


ERRORS: dict[str, Any] = {
    "ValueError": ValueError,
    "KeyError": KeyError,
    "TaskError": lambda message: TaskError(message, 42),
    "Empty": lambda message: RuntimeError(),
    "Unprintable": Unprintable,
}


@dataclass
class Side:
    """One SDK: its client, its package (the context functions) and its integration."""

    name: str
    key: str
    client: Any
    package: Any
    integration: type
    filter_calls: list[Any] = field(default_factory=list)


class Layer(NamedTuple):
    """One producer context around the publish: `new_context(fresh)` and what is set in it."""

    fresh: bool
    distinct_id: str | None
    session_id: str | None
    tags: dict[str, Any]


class TaskRun(NamedTuple):
    """One published task: its name, its plan, its arguments and the contexts around it."""

    name: str
    plan: dict[str, Any]
    args: list[Any]
    layers: list[Layer]


class Observed(NamedTuple):
    events: list[Any]
    filter_calls: list[Any]
    results: list[Any]
    left_open: list[str]  # the end states of task runs that left their context open


_current: list[Side] = []


class Traced(Task):  # type: ignore[misc]
    """A task whose hooks capture an event when its plan asks them to."""

    def _hook(self, hook: str, args: Any) -> None:
        plan = args[0] if args and isinstance(args[0], dict) else {}
        if hook in plan.get("hooks", ()):
            _current[0].client.capture(f"hook {hook}", properties={"hook": hook})

    def on_success(self, retval: Any, task_id: Any, args: Any, kwargs: Any) -> None:
        self._hook("on_success", args)

    def on_failure(self, exc: Any, task_id: Any, args: Any, kwargs: Any, einfo: Any) -> None:
        self._hook("on_failure", args)

    def on_retry(self, exc: Any, task_id: Any, args: Any, kwargs: Any, einfo: Any) -> None:
        self._hook("on_retry", args)

    def after_return(self, *args: Any) -> None:
        self._hook("after_return", args[3])


def _body(self: Any, plan: dict[str, Any], *args: Any) -> Any:
    side = _current[0]
    for name, value in plan["tags"].items():
        side.package.tag(name, value)
    if plan["capture"]:
        props = {"args": list(args), "attempt": self.request.retries}
        side.client.capture("inside task", distinct_id=plan["capture_as"], properties=props)
    return _outcome(self, plan["outcome"])


def _outcome(task: Any, outcome: dict[str, Any]) -> Any:
    kind = outcome["kind"]
    if kind == "return":
        return outcome["value"]
    if kind == "raise":
        raise ERRORS[outcome["error"]](outcome["message"])
    if kind == "reject":
        raise Reject("rejected", requeue=False)
    if kind == "ignore":
        raise Ignore()
    attempt = task.request.retries
    exc = ValueError(outcome["message"]) if outcome["with_exc"] else None
    if attempt < outcome["times"] or outcome["then"] == "exceed":
        raise task.retry(exc=exc, countdown=0, max_retries=outcome["times"])
    if outcome["then"] == "raise":
        raise ValueError(outcome["message"])
    return attempt


for _name in TASK_NAMES:
    app.task(name=_name, bind=True, base=Traced)(_body)


def awaited(plan: dict[str, Any]) -> list[tuple[str, int]]:
    """The signals that say a task is done on the worker, with how often each comes: a
    run's `task_postrun` per execution, and the `task_failure` a worker sends for a
    rejected task after its run."""
    outcome = plan["outcome"]
    if outcome["kind"] == "reject":
        return [("task_postrun", 1), ("task_failure", 1)]
    return [("task_postrun", outcome["times"] + 1 if outcome["kind"] == "retry" else 1)]


# The context variables in which each SDK keeps the open context.
CONTEXT_VARIABLES = {"posthog": "posthog_context_stack", "hogkit": "hogkit_context"}


class _Finished:
    """Counts the signals that end a task's work on the worker, so a run can wait for them.

    After each run of a task on the worker it also looks for a context the integration
    left open in the worker's thread, notes it and closes it, so that it cannot reach
    the next task (posthog's integration leaves a rejected or ignored task's context open).
    """

    def __init__(self, side: str, eager: bool) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.changed = threading.Condition()
        self.variable = CONTEXT_VARIABLES[side]
        self.eager = eager
        self.left_open: list[str] = []

    def postrun(
        self, *args: Any, task: Any = None, task_id: Any = None, state: Any = None, **kwargs: Any
    ) -> None:
        if not self.eager:  # eagerly, a retry runs inside the task: its context is open
            for variable, value in contextvars.copy_context().items():
                if variable.name == self.variable and value is not None:
                    self.left_open.append(str(state))
                    variable.set(None)
        if state in ("REJECTED", "IGNORED"):
            # posthog's integration never closes such a task's context: its generator stays
            # suspended until the garbage collector finalizes it, whose `finally` then resets
            # posthog's context in whatever thread and task is running at that moment.
            # Closed here, it cannot reach a later task (of this run or another test).
            leaked = getattr(getattr(task, "request", None), "_posthog_ctx", None)
            if leaked is not None:
                leaked.__exit__(None, None, None)
        self._count("task_postrun", task_id)

    def failure(self, *args: Any, task_id: Any = None, **kwargs: Any) -> None:
        self._count("task_failure", task_id)

    def _count(self, signal: str, task_id: Any) -> None:
        with self.changed:
            key = (signal, str(task_id))
            self.counts[key] = self.counts.get(key, 0) + 1
            self.changed.notify_all()

    def wait(self, task_id: str, plan: dict[str, Any]) -> bool:
        def done() -> bool:
            return all(self.counts.get((s, task_id), 0) >= n for s, n in awaited(plan))

        with self.changed:
            return self.changed.wait_for(done, TASK_WAIT)


@dataclass
class Options:
    """How the integration is built and the app run in one example."""

    settings: dict[str, Any]
    task_filter: str | None
    pass_client: bool
    eager: bool


def run_side(
    side: Side, options: Options, tasks: list[TaskRun], server: LoopbackServer
) -> Observed:
    """Run `tasks` under `side`'s integration; what that SDK sent, was asked and returned."""
    side.filter_calls = []
    sent_before = len(server.requests("/batch/"))
    integration = side.integration(
        side.client if options.pass_client else None,
        task_filter=_filter(side, options.task_filter),
        **options.settings,
    )
    finished = _Finished(side.name, options.eager)
    app.conf.task_always_eager = options.eager
    _current[:] = [side]
    previous = side.package.default_client
    side.package.default_client = side.client
    integration.instrument()
    # Connected after the integration's handlers, so they run after them.
    signals.task_postrun.connect(finished.postrun, weak=False)
    signals.task_failure.connect(finished.failure, weak=False)
    try:
        # A context an integration leaves open stays in this copy, not in the test's thread.
        ids = contextvars.copy_context().run(_publish_all, side, tasks, finished, options.eager)
    finally:
        signals.task_postrun.disconnect(finished.postrun)
        signals.task_failure.disconnect(finished.failure)
        integration.shutdown()
        side.package.default_client = previous
        _current[:] = []
        app.conf.task_always_eager = False
    names = {task_id: f"task-{i}" for i, task_id in enumerate(ids)}
    events = [
        _renamed(context_tags_in_order(e), names)
        for e in personless_marked(
            normalized(event)
            for r in server.requests("/batch/")[sent_before:]
            if sdk_key(r) == side.key
            for event in r.json()["batch"]
        )
    ]
    calls = [_renamed(call, names) for call in side.filter_calls]
    results = [_renamed(_result(task_id), names) for task_id in ids]
    return Observed(events, calls, results, finished.left_open)


def _publish_all(side: Side, tasks: list[TaskRun], finished: _Finished, eager: bool) -> list[str]:
    ids = []
    for run in tasks:
        result = _publish(side, run, list(run.layers))
        ids.append(result.id)
        if not eager and not finished.wait(result.id, run.plan):
            raise AssertionError(f"{side.name}: task {run.name} never finished")
    return ids


def _publish(side: Side, run: TaskRun, layers: list[Layer]) -> Any:
    """Publish `run` inside `layers` (outermost first)."""
    if not layers:
        task = app.tasks[run.name]
        return task.apply_async(args=[run.plan, *run.args])
    layer, rest = layers[0], layers[1:]
    with side.package.new_context(fresh=layer.fresh):
        if layer.distinct_id is not None:
            side.package.identify_context(layer.distinct_id)
        if layer.session_id is not None:
            side.package.set_context_session(layer.session_id)
        for name, value in layer.tags.items():
            side.package.tag(name, value)
        return _publish(side, run, rest)


def _result(task_id: str) -> Any:
    """What a task ended as: its state and its value (an exception as its type and args)."""
    result = AsyncResult(task_id, app=app)
    state, value = result.state, result.result
    if isinstance(value, BaseException):
        value = [type(value).__name__, [repr(a) for a in value.args]]
    return [state, json.loads(json.dumps(value, default=repr))]


def _filter(side: Side, kind: str | None) -> Any:
    """A task filter that records each call; `kind` says what it answers."""
    if kind is None:
        return None

    def decide(name: Any, props: dict[str, Any]) -> Any:
        side.filter_calls.append([name, json.loads(json.dumps(props, default=repr))])
        state = props.get("celery_state")
        if kind == "everything":
            return True
        if kind == "not published":
            return state != "published"
        if kind == "plain only":
            return name == "diff.plain"
        if kind == "hostname":  # a truthy non-bool, and a falsy one at publish time
            return props.get("celery_hostname")
        if kind == "raises on failure" and state == "failure":
            raise RuntimeError("filter failed")
        if kind == "raises on start" and state == "started":
            raise RuntimeError("filter failed")
        return state in ("started", "success", "retry")

    return decide


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """`value` with the run's task ids replaced by `task-<n>` and durations by a marker."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in DURATIONS and isinstance(item, (int, float)):
                out[key] = "<duration>"
            else:
                out[key] = _renamed(item, names)
        return out
    if isinstance(value, list):
        return [_renamed(item, names) for item in value]
    if isinstance(value, str):
        for task_id, name in names.items():
            value = value.replace(task_id, name)
    return value


@contextlib.contextmanager
def restored_logging() -> Iterator[None]:
    """Put back the logging a Celery worker changes when it starts (the root logger's level
    and handlers, some loggers' levels), so later tests see the logging they configured."""
    root = logging.getLogger()
    handlers, loggers = list(root.handlers), dict(logging.Logger.manager.loggerDict)
    levels = {name: lg.level for name, lg in loggers.items() if isinstance(lg, logging.Logger)}
    root_level = root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def worker_context() -> Iterator[None]:
    """The module's worker: one solo-pool worker thread on the in-memory broker, with
    logging put back afterwards (see `restored_logging`)."""
    from celery.contrib.testing.worker import start_worker

    with (
        restored_logging(),
        start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10),
    ):
        yield


REF_KEY = "phc_celery_reference"
KIT_KEY = "phc_celery_hogkit"

Sides = tuple[Side, Side, LoopbackServer]


@contextlib.contextmanager
def celery_sides() -> Iterator[Sides]:
    """posthog's side and hogkit's, their clients on one loopback server, and the worker."""
    server = LoopbackServer()
    common = {"host": server.url, "sync_mode": True, "enable_local_evaluation": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ref = posthog.Client(REF_KEY, **common)
        kit = KitClient(KIT_KEY, **common)
    ref_side = Side("posthog", REF_KEY, ref, posthog, ref_celery.PosthogCeleryIntegration)
    kit_side = Side("hogkit", KIT_KEY, kit, hogkit, kit_celery.PosthogCeleryIntegration)
    try:
        with worker_context():
            yield ref_side, kit_side, server
    finally:
        ref.shutdown()
        kit.shutdown()
        server.close()


def run_both(sides: Sides, options: Options, tasks: list[TaskRun]) -> tuple[Observed, Observed]:
    """The same tasks under posthog's integration, then hogkit's, each as comparable."""
    ref_side, kit_side, server = sides
    ref = run_side(ref_side, options, tasks, server)
    kit = run_side(kit_side, options, tasks, server)
    return _comparable(ref, options.eager), _comparable(kit, options.eager)


def _comparable(observed: Observed, eager: bool) -> Observed:
    """Eagerly everything happens in one thread, in order; on a worker, the producer's
    publication events race the worker's first events, so order is not compared."""
    if eager:
        return observed
    return observed._replace(
        events=sorted(observed.events, key=_canonical),
        filter_calls=sorted(observed.filter_calls, key=_canonical),
    )


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
