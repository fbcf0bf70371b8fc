"""Hypothesis strategies for the client-level differential: definitions, `/flags` replies, reads.

The pools are small on purpose. Five flag keys, two people and two plans make the reads of
one example meet each other: the same flag read twice by the same person (deduplication),
a flag decided locally for one caller and sent to the server for the next (a property the
caller did not pass), a server record for a key local evaluation already decided, a record
for a key no definition has.

A drawn example is plain data (dicts, lists, `Read` tuples), so hypothesis prints it whole
when it reports a mismatch; `test_client_differential.py` turns it into HTTP replies and calls.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from hypothesis import strategies as st
from strategies import documents, reaches_a_failure

KEYS = ("f0", "f1", "f2", "f3", "f4")
GHOST = "ghost"  # a key the server may answer for that no definition has
PEOPLE = ("user-1", "user-2", "user-1", "user-2", 42)
# Ids with no person: an older read evaluates them as their text and reports the read
# personless (under a fresh random id); evaluate_flags answers nothing for them.
BLANK_PEOPLE = (None, "")
SUPER_PROPERTIES: tuple[dict[str, Any], ...] = (
    {"tier": "gold"},
    {"$feature_flag_response": "spoofed", "$feature_flag_reason": "spoofed", "$feature/f0": 1},
)
VARIANTS = ("control", "test")
STATIC_COHORT = 99  # referenced, never defined: a static cohort only the server can decide
# Condition rollouts posthog-python fails on (it compares a hash with them): it leaves the
# flag out of its local answer, and its bulk reads then ask the server for every flag.
BROKEN_ROLLOUTS: tuple[Any, ...] = ("50", "", [50], {"p": 50})

# Payload texts as the server stores them: JSON of every kind, numbers whose text a
# re-encoding would change, and text that is not JSON at all.
PAYLOADS = ('{"a": 1}', '"s"', "[1, 2]", "1.50", "100", "true", "null", "not json {", "")
# Payloads stored as JSON values rather than text.
PAYLOAD_VALUES = ({"raw": "object"}, [1, "x"], 7, 2.5)

PERSON_PROPERTIES: tuple[dict[str, Any] | None, ...] = (
    None,
    {},
    {"plan": "pro"},
    {"plan": "free"},
    {"plan": "pro", "email": "a@example.com"},
    {"email": "b@example.com"},
    {"plan": "pro", "age": 30, "beta": True, "score": 1.5, "tags": ["a", "b"]},
)
GROUPS: tuple[dict[str, Any] | None, ...] = (
    None,
    {"company": "acme"},
    {"company": "org-2"},
    {"company": 7, "project": "p-1"},
)
GROUP_PROPERTIES: tuple[dict[str, Any] | None, ...] = (
    None,
    {"company": {"size": "big"}},
    {"company": {"size": "small"}},
)

REASON_CODES = (
    "condition_match",
    "no_condition_match",
    "out_of_rollout_bound",
    "",
    "experiment_split",
    "targeting_match",
    "holdout",
)
RULE_IDS = ("0f8b6c2e-4d0a-4c57-9a3e-2b8d7f1e6a90", "not-a-uuid")
RULE_TYPES = ("experiment", "targeted_release", "percentage_rollout")


def _plan(value: str = "pro", operator: str = "exact") -> dict[str, Any]:
    return {"key": "plan", "type": "person", "operator": operator, "value": [value]}


@st.composite
def _payloads(draw: st.DrawFn, values: tuple[str, ...]) -> dict[str, Any] | None:
    if not draw(st.integers(0, 2)):
        return None
    texts = st.one_of(st.sampled_from(PAYLOADS), st.sampled_from(PAYLOAD_VALUES))
    return draw(st.dictionaries(st.sampled_from(values), texts, max_size=len(values)))


@st.composite
def _variants(draw: st.DrawFn) -> list[dict[str, Any]]:
    split = draw(st.sampled_from((0, 50, 100, 100)))
    return [
        {"key": VARIANTS[0], "rollout_percentage": split},
        {"key": VARIANTS[1], "rollout_percentage": 100 - split},
    ]


@st.composite
def flag_definitions(
    draw: st.DrawFn, key: str, fid: int, earlier: tuple[str, ...], local: bool = False
) -> Any:
    """One flag of a kind chosen to be decided locally, by the server, or by the caller, or
    one local evaluation fails on (`broken`); `local` keeps to the kinds that need no server
    but the failing one, so a failure is the only reason a read asks the server."""
    kinds = ["release", "plan", "multivariate", "inactive", "broken"]
    if not local:
        kinds += ["continuity", "cohort", "static_cohort", "unknown_operator", "group"]
    if earlier:
        kinds.append("dependency")
    kind = draw(st.sampled_from(kinds))
    rollout = draw(st.sampled_from((100, 100, 50, 0)))
    condition: dict[str, Any] = {"properties": [], "rollout_percentage": rollout}
    filters: dict[str, Any] = {"groups": [condition]}
    flag: dict[str, Any] = {
        "id": fid,
        "key": key,
        "active": True,
        "version": draw(st.integers(1, 4)),
    }
    if kind == "plan":
        condition["properties"] = [_plan(draw(st.sampled_from(("pro", "free"))))]
    elif kind == "multivariate":
        filters["multivariate"] = {"variants": draw(_variants())}
        if draw(st.booleans()):
            condition["properties"] = [_plan()]
        if not draw(st.integers(0, 3)):
            condition["variant"] = draw(st.sampled_from(VARIANTS))
    elif kind == "continuity":
        flag["ensure_experience_continuity"] = True
    elif kind == "cohort":
        condition["properties"] = [{"key": "id", "type": "cohort", "value": 1}]
    elif kind == "static_cohort":
        condition["properties"] = [{"key": "id", "type": "cohort", "value": STATIC_COHORT}]
    elif kind == "unknown_operator":
        condition["properties"] = [_plan(operator="is_date_exact")]
    elif kind == "group":
        filters["aggregation_group_type_index"] = 0
        if draw(st.booleans()):
            condition["properties"] = [
                {
                    "key": "size",
                    "type": "group",
                    "group_type_index": 0,
                    "operator": "exact",
                    "value": ["big"],
                }
            ]
    elif kind == "inactive":
        flag["active"] = False
    elif kind == "broken":
        _break_rollout(draw, filters)
    elif kind == "dependency":
        parent = draw(st.sampled_from(earlier))
        condition["properties"] = [
            {
                "key": parent,
                "type": "flag",
                "operator": "flag_evaluates_to",
                "value": draw(st.sampled_from((True, False, *VARIANTS))),
                "dependency_chain": [parent],
            }
        ]
    payload_keys = ("true", *VARIANTS) if kind == "multivariate" else ("true",)
    payloads = draw(_payloads(payload_keys))
    if payloads is not None:
        filters["payloads"] = payloads
    flag["filters"] = filters
    if not draw(st.integers(0, 5)):
        flag["has_experiment"] = draw(st.booleans())
    return kind, flag


def _break_rollout(draw: st.DrawFn, filters: dict[str, Any]) -> None:
    """Give the flag a condition whose rollout is not a number: its only one, one behind a
    plan filter (a pro reaches it), or one after a condition on the free plan."""
    place = draw(st.sampled_from(("alone", "behind a filter", "second")))
    broken: dict[str, Any] = {
        "properties": [_plan()] if place == "behind a filter" else [],
        "rollout_percentage": draw(st.sampled_from(BROKEN_ROLLOUTS)),
    }
    if place == "second":
        filters["groups"][0]["properties"] = [_plan("free")]
        filters["groups"].append(broken)
    else:
        filters["groups"] = [broken]


@st.composite
def structured_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A definitions document of the kinds above; a dependency names only an earlier flag of
    a kind with no dependency of its own, so its one-element chain is the honest one. One
    in three holds only flags decided locally, bar those local evaluation fails on."""
    keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True))
    local = not draw(st.integers(0, 2))
    flags: list[dict[str, Any]] = []
    plain: list[str] = []
    for fid, key in enumerate(keys, start=1):
        kind, flag = draw(flag_definitions(key, fid, tuple(plain), local))
        flags.append(flag)
        if kind in ("release", "plan", "multivariate"):
            plain.append(key)
    document: dict[str, Any] = {
        "flags": flags,
        "group_type_mapping": {"0": "company"},
        "cohorts": {"1": {"type": "AND", "values": [_plan()]}},
    }
    return document


def _answerable(document: dict[str, Any]) -> bool:
    """No flag reaches what posthog-python fails on while evaluating (cohorts including
    each other, a parent whose rollout is not a number): it leaves such a flag out of an
    `evaluate_flags` snapshot the server did not answer it in, where hogkit lists it as
    `unsupported_definition` (README, "What differs on purpose"); the engine differential
    checks those flags."""
    return not any(reaches_a_failure(document, flag["key"]) for flag in document["flags"])


# A whole document from the engine differential's strategy now and then: every operator,
# holdouts, damaged dependency chains, odd rollouts, in the client's merge and events.
any_documents = st.one_of(
    structured_documents(),
    structured_documents(),
    structured_documents(),
    documents(max_flags=3).filter(_answerable),
)


# ---------------------------------------------------------------------------------------------
# `/flags` replies


@st.composite
def _reasons(draw: st.DrawFn) -> dict[str, Any]:
    """A record's reason: a code and a description, either of them empty, null or absent."""
    reason: dict[str, Any] = {}
    code = draw(st.sampled_from((*REASON_CODES, None, "absent")))
    if code != "absent":
        reason["code"] = code
    description = draw(st.sampled_from(("Matched condition set 1", "", None, "absent")))
    if description != "absent":
        reason["description"] = description
    return reason


@st.composite
def _attribution(draw: st.DrawFn, value: Any) -> dict[str, Any]:
    """The `/flags?v=4` rule fields of a config-version-2 record (an experiment arm when
    they are complete)."""
    fields: dict[str, Any] = {"config_version": draw(st.sampled_from((2, 2, 1)))}
    if draw(st.integers(0, 4)):
        fields["rule_id"] = draw(st.sampled_from(RULE_IDS))
    if draw(st.integers(0, 4)):
        fields["rule_type"] = draw(st.sampled_from(RULE_TYPES))
    if draw(st.integers(0, 4)):
        fields["variant_key"] = value if isinstance(value, str) else draw(st.sampled_from(VARIANTS))
    return fields


@st.composite
def flag_records(draw: st.DrawFn, key: str) -> dict[str, Any]:
    """One `/flags` record: value, reason, metadata (id, version, payload), failure.

    Two shapes: the typed record (`value`: a boolean, a variant, null, or a number or object
    that is its own payload) and the older one (`enabled` and `variant`).
    """
    typed = draw(st.booleans())
    value = draw(st.sampled_from((True, True, False, *VARIANTS)))
    record: dict[str, Any] = {"key": key}
    if typed:
        odd = draw(st.integers(0, 5)) == 5
        record["value"] = draw(st.sampled_from((None, 3, {"v": 1}))) if odd else value
    else:
        record["enabled"] = value is not False
        record["variant"] = value if isinstance(value, str) else None
    if draw(st.integers(0, 5)):
        record["reason"] = draw(_reasons())
    elif draw(st.booleans()):
        record["reason"] = None
    metadata: dict[str, Any] = {}
    if draw(st.integers(0, 5)):
        metadata["id"] = draw(st.integers(1, 50))
    if draw(st.integers(0, 5)):
        metadata["version"] = draw(st.integers(1, 9))
    if draw(st.booleans()):
        metadata["payload"] = draw(st.one_of(st.sampled_from(PAYLOADS), st.sampled_from((5,))))
    if not draw(st.integers(0, 4)):
        metadata["has_experiment"] = draw(st.booleans())
    if not draw(st.integers(0, 2)):
        metadata.update(draw(_attribution(value)))
        if draw(st.booleans()):
            # A complete experiment split, in a typed record (an older one is config
            # version 1 whatever it says): the read also sends `$experiment_exposure`.
            metadata.update(config_version=2, rule_id=RULE_IDS[0], rule_type="experiment")
            metadata.setdefault("variant_key", value if isinstance(value, str) else "")
            record["reason"] = {"code": "experiment_split", "description": "In the experiment"}
            record.pop("enabled", None)
            record.pop("variant", None)
            record["value"] = value
    if draw(st.integers(0, 6)):
        record["metadata"] = metadata
    if not draw(st.integers(0, 7)):
        record["failed"] = True
    return record


@st.composite
def flags_answers(draw: st.DrawFn, known: tuple[str, ...] = KEYS) -> dict[str, Any]:
    """A `/flags` body: records for some keys, and the envelope's request-wide fields."""
    keys = draw(st.lists(_keys(known), max_size=4, unique=True))
    body: dict[str, Any] = {"flags": {key: draw(flag_records(key)) for key in keys}}
    if draw(st.integers(0, 5)):
        body["requestId"] = draw(st.sampled_from(("req-1", "req-2")))
    if draw(st.integers(0, 3)):
        body["evaluatedAt"] = draw(st.sampled_from((1765000000000, 1765000000123)))
    body["errorsWhileComputingFlags"] = not draw(st.integers(0, 5))
    if not draw(st.integers(0, 9)):
        body["quotaLimited"] = ["feature_flags"]
    return body


class ServerReply(NamedTuple):
    """What `/flags` does with one request: `kind` is answer, error, not_json, reset or
    timeout; `body` is the answer's JSON (kind answer) or the error's status (kind error)."""

    kind: str
    body: Any = None


@st.composite
def replies(draw: st.DrawFn, known: tuple[str, ...] = KEYS) -> ServerReply:
    """Mostly an answer; otherwise an answer in the oldest shape, an HTTP error, a body that
    is not JSON, or a reset."""
    kind = draw(st.integers(0, 10))
    if kind < 7:
        return ServerReply("answer", draw(flags_answers(known)))
    if kind == 7:
        return ServerReply("answer", draw(oldest_answers(known)))
    if kind == 8:
        return ServerReply("error", draw(st.sampled_from((500, 502, 400, 404))))
    return ServerReply("not_json" if kind == 9 else "reset")


@st.composite
def oldest_answers(draw: st.DrawFn, known: tuple[str, ...] = KEYS) -> dict[str, Any]:
    """A body in the shape before records (`featureFlags` and `featureFlagPayloads` maps)."""
    keys = draw(st.lists(_keys(known), max_size=3, unique=True))
    values = {key: draw(st.sampled_from((True, False, *VARIANTS))) for key in keys}
    payloads = {key: draw(st.sampled_from(PAYLOADS)) for key in keys if draw(st.booleans())}
    body: dict[str, Any] = {"featureFlags": values, "featureFlagPayloads": payloads}
    if draw(st.booleans()):
        body["errorsWhileComputingFlags"] = draw(st.booleans())
    return body


@st.composite
def reply_scripts(draw: st.DrawFn, known: tuple[str, ...] = KEYS) -> list[ServerReply]:
    """The replies each SDK's successive `/flags` requests get (the last one repeats).

    A timeout is rare and is then the only reply: every request of that example waits for
    the deadline, so a loaded machine cannot turn a quick answer into a timeout for one SDK.
    """
    if draw(st.integers(0, 29)) == 29:
        return [ServerReply("timeout")]
    return draw(st.lists(replies(known), min_size=1, max_size=2))


# ---------------------------------------------------------------------------------------------
# Remote-config replies

REMOTE_CONFIG = "/api/projects/@current/feature_flags/{key}/remote_config"

# Remote-config answers: JSON of every kind, numbers whose text a re-encoding would change,
# the constants Python's json module reads and strict JSON does not, and text that is no JSON.
REMOTE_CONFIG_BODIES = (
    '"{\\"a\\": 1}"',
    '{"a": 1}',
    '"s"',
    "[1, 2]",
    "1.50",
    "100",
    "1e400",
    "true",
    "null",
    "NaN",
    "Infinity",
    "not json {",
    "",
)


@st.composite
def _config_replies(draw: st.DrawFn, reset: bool = True) -> tuple[str, Any]:
    kind = draw(st.integers(0, 9 if reset else 7))
    if kind < 6:
        return ("answer", draw(st.sampled_from(REMOTE_CONFIG_BODIES)))
    if kind < 8:
        return ("error", draw(st.sampled_from((401, 404, 500))))
    return ("reset", None)


@st.composite
def config_scripts(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Remote-config replies (kind, status or body), the last one repeating; a reset only
    last. aiohttp sends a GET again, once, when the connection closes before an answer
    (RFC 9112 9.3.1), where posthog's httpx does not: a reset followed by an answer is read
    by hogkit's async client and not by posthog's."""
    first = draw(st.lists(_config_replies(reset=False), max_size=1))
    return [*first, draw(_config_replies())]


# ---------------------------------------------------------------------------------------------
# Reads


class Read(NamedTuple):
    """One public call: `method` on the client, `args`, `kwargs`; for `evaluate_flags` the
    snapshot reads that follow it in `then` (method name, key, keyword arguments)."""

    method: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    then: tuple[tuple[str, str, dict[str, Any]], ...] = ()


def _keys(known: tuple[str, ...]) -> st.SearchStrategy[str]:
    """A flag key: mostly one the definitions hold, sometimes one they do not."""
    return st.one_of(st.sampled_from(known), st.sampled_from(known), st.just(GHOST))


@st.composite
def _context(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments shared by every read: who is asking, with what properties."""
    kwargs: dict[str, Any] = {}
    person = draw(st.sampled_from(PERSON_PROPERTIES))
    if person is not None:
        kwargs["person_properties"] = person
    groups = draw(st.sampled_from(GROUPS))
    if groups is not None:
        kwargs["groups"] = groups
        group_props = draw(st.sampled_from(GROUP_PROPERTIES))
        if group_props is not None:
            kwargs["group_properties"] = group_props
    if not draw(st.integers(0, 3)):
        kwargs["only_evaluate_locally"] = draw(st.booleans())
    if not draw(st.integers(0, 7)):
        kwargs["disable_geoip"] = draw(st.booleans())
    if not draw(st.integers(0, 7)):
        kwargs["device_id"] = draw(st.sampled_from(("device-1", "")))
    return kwargs


@st.composite
def _snapshot_reads(
    draw: st.DrawFn, known: tuple[str, ...]
) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        method = draw(st.sampled_from(("get_flag", "is_enabled", "get_flag_payload")))
        kwargs: dict[str, Any] = {}
        if method != "get_flag_payload" and not draw(st.integers(0, 4)):
            kwargs["send_feature_flag_events"] = False
        if method == "is_enabled" and not draw(st.integers(0, 3)):
            kwargs["default_value"] = True
        out.append((method, draw(_keys(known)), kwargs))
    if not draw(st.integers(0, 3)):
        # An event carrying the snapshot (every flag, only those read so far, or some keys),
        # with the caller's properties, and now and then `send_feature_flags` beside it.
        choice = draw(st.integers(0, 2))
        kwargs = {"only": draw(st.lists(_keys(known), max_size=3))} if choice == 2 else {}
        kwargs["only_accessed"] = choice == 1
        kwargs["extras"] = draw(_capture_extras())
        if not draw(st.integers(0, 4)):
            kwargs["extras"]["send_feature_flags"] = True
        out.append(("capture", "", kwargs))
    return tuple(out)


# Properties a caller passes to a capture that carries flags: the names the flags are sent
# under (`$feature/<key>`, `$active_feature_flags`), for a key the flags hold and one they
# do not, beside a name of the caller's own.
CAPTURE_PROPERTIES: tuple[dict[str, Any], ...] = (
    {"plan": "pro"},
    {"$feature/f0": "mine", "$feature/ghost": 1},
    {"$active_feature_flags": ["mine"], "$feature/f1": False},
)


@st.composite
def _capture_extras(draw: st.DrawFn) -> dict[str, Any]:
    """`capture` keywords besides the flags: the caller's properties and GeoIP choice."""
    kwargs: dict[str, Any] = {}
    if not draw(st.integers(0, 2)):
        kwargs["properties"] = draw(st.sampled_from(CAPTURE_PROPERTIES))
    if not draw(st.integers(0, 3)):
        kwargs["disable_geoip"] = draw(st.booleans())
    return kwargs


@st.composite
def _capture_options(draw: st.DrawFn, known: tuple[str, ...]) -> dict[str, Any]:
    """`capture` keywords asking for the flags to be attached (True, or an options mapping,
    which asks for them whatever its `should_send` says), now and then False."""
    kwargs: dict[str, Any] = draw(_capture_extras())
    groups = draw(st.sampled_from(GROUPS))
    if groups is not None:
        kwargs["groups"] = groups
    choice = draw(st.integers(0, 5))
    if choice < 3:
        kwargs["send_feature_flags"] = choice > 0
        return kwargs
    options: dict[str, Any] = {}
    if not draw(st.integers(0, 4)):
        options["should_send"] = draw(st.booleans())
    if draw(st.booleans()):
        options["only_evaluate_locally"] = draw(st.booleans())
    person = draw(st.sampled_from(PERSON_PROPERTIES))
    if person is not None:
        options["person_properties"] = person
    if groups is not None and draw(st.booleans()):
        options["group_properties"] = draw(st.sampled_from(GROUP_PROPERTIES[1:]))
    if not draw(st.integers(0, 3)):
        options["flag_keys_filter"] = draw(st.lists(_keys(known), max_size=3, unique=True))
    kwargs["send_feature_flags"] = options
    return kwargs


def _evaluate_read(draw: st.DrawFn, who: Any, known: tuple[str, ...]) -> Read:
    """`evaluate_flags` for `who` with the caller's context, and the snapshot reads after it."""
    kwargs = draw(_context())
    if not draw(st.integers(0, 3)):
        kwargs["flag_keys"] = draw(st.lists(_keys(known), max_size=3, unique=True))
    return Read("evaluate_flags", (who,), kwargs, draw(_snapshot_reads(known)))


def _reader(draw: st.DrawFn) -> Any:
    """Who reads: mostly a person, now and then an id with no person."""
    if draw(st.integers(0, 14)):
        return draw(st.sampled_from(PEOPLE))
    return draw(st.sampled_from(BLANK_PEOPLE))


@st.composite
def evaluate_reads(draw: st.DrawFn, known: tuple[str, ...] = KEYS) -> Read:
    """`evaluate_flags` and its snapshot's reads, alone (as `reads` draws them)."""
    return _evaluate_read(draw, _reader(draw), known)


@st.composite
def capture_reads(draw: st.DrawFn, known: tuple[str, ...] = KEYS) -> Read:
    """`capture` asking for the flags to be attached, under a person (as `reads` draws it)."""
    return Read("capture", (draw(st.sampled_from(PEOPLE)),), draw(_capture_options(known)))


DECISION_READS = (
    "get_flags_decision",
    "get_feature_variants",
    "get_feature_payloads",
    "get_feature_flags_and_payloads",
)


@st.composite
def decision_reads(draw: st.DrawFn, known: tuple[str, ...] = KEYS) -> Read:
    """One of the older getters that return the server's answer as it is (one `/flags`
    request, no local evaluation, no events), by keyword or by position."""
    method = draw(st.sampled_from(DECISION_READS))
    kwargs = {k: v for k, v in draw(_context()).items() if k != "only_evaluate_locally"}
    if not draw(st.integers(0, 3)):
        kwargs["flag_keys_to_evaluate"] = draw(st.lists(_keys(known), max_size=3, unique=True))
    who = _reader(draw)
    if draw(st.booleans()):
        return Read(method, (who,), kwargs)
    order = ("groups", "person_properties", "group_properties", "disable_geoip")
    given = [kwargs.pop(name, None) for name in order]
    while given and given[-1] is None:
        given.pop()
    return Read(method, (who, *given), kwargs)


@st.composite
def reads(draw: st.DrawFn, known: tuple[str, ...] = KEYS) -> Read:
    """One public read, old or new, with the caller's context."""
    method = draw(
        st.sampled_from(
            (
                "evaluate_flags",
                "evaluate_flags",
                "get_feature_flag",
                "feature_enabled",
                "get_feature_flag_payload",
                "get_feature_flag_result",
                "get_all_flags",
                "get_all_flags_and_payloads",
                "capture",
                "decision",
                "get_remote_config_payload",
            )
        )
    )
    if method == "decision":
        return draw(decision_reads(known))
    if method == "get_remote_config_payload":
        return Read(method, (draw(_keys(known)),), {})
    who = _reader(draw)
    if method == "capture" and who in BLANK_PEOPLE:
        # A personless capture asks for the flags of its fresh random id: values no two
        # runs share. Captured under a person instead.
        who = PEOPLE[0]
    if method == "capture":
        return Read(method, (who,), draw(_capture_options(known)))
    if method == "evaluate_flags":
        return _evaluate_read(draw, who, known)
    kwargs = draw(_context())
    if method.startswith("get_all_flags"):
        if not draw(st.integers(0, 4)):
            kwargs["flag_keys_to_evaluate"] = draw(st.lists(_keys(known), max_size=3, unique=True))
        return Read(method, (who,), kwargs)
    if not draw(st.integers(0, 3)):
        kwargs["send_feature_flag_events"] = draw(st.booleans())
    if method == "get_feature_flag_payload" and not draw(st.integers(0, 3)):
        kwargs["match_value"] = draw(st.sampled_from((True, *VARIANTS, "nope")))
    return Read(method, (draw(_keys(known)), who), kwargs)


class Example(NamedTuple):
    """One differential example: definitions (None: no local evaluation), the `/flags`
    script, the reads in order, the status the definitions download gets (200, or a
    failure: the clients then have no definitions to evaluate), options both clients
    are built with, and what each later download (a `load_feature_flags` read) gets."""

    document: dict[str, Any] | None
    script: list[ServerReply]
    reads: list[Read]
    definitions_status: int = 200
    options: dict[str, Any] | None = None
    config_script: tuple[tuple[str, Any], ...] = (("error", 404),)
    reloads: tuple[ServerReply, ...] = ()


RELOAD = Read("load_feature_flags", (), {})
"""A read that downloads the definitions again, as a poll does."""


@st.composite
def reload_replies(draw: st.DrawFn, document: dict[str, Any]) -> ServerReply:
    """What a download after the first gets: other definitions ("answer"), "not_modified"
    (304 for the ETag every document is sent with), an error status ("error": the quota
    used up and a refused key drop the definitions, a server error keeps them), or a 200
    body that is not a definitions document ("answer" too: a proxy's `{}` or error object,
    a bare list of flags), which keeps them. (A document without its tables is not drawn:
    posthog-python fails on it, hogkit reads the missing tables as empty.)

    Never a first download that fails and a later one that succeeds: posthog-python
    downloads again on every flag read until one succeeds, hogkit waits for the next poll
    (the poller's first-load rule), so the two read from different places in between."""
    kind = draw(st.integers(0, 9))
    if kind < 4:
        return ServerReply("answer", draw(structured_documents()))
    if kind == 4:
        return ServerReply("not_modified")
    if kind < 7:
        return ServerReply("error", draw(st.sampled_from((500, 402, 401))))
    flags = document["flags"]
    not_documents = ({}, {"type": "server_error", "detail": "try again"}, flags, "text")
    return ServerReply("answer", draw(st.sampled_from(not_documents)))


@st.composite
def _with_reloads(
    draw: st.DrawFn, document: dict[str, Any], calls: list[Read]
) -> tuple[list[Read], tuple[ServerReply, ...]]:
    """`calls` with one or two `RELOAD` reads put among them, and what each download gets."""
    reloads = tuple(draw(st.lists(reload_replies(document), min_size=1, max_size=2)))
    calls = list(calls)
    for _ in reloads:
        calls.insert(draw(st.integers(0, len(calls))), RELOAD)
    return calls, reloads


@st.composite
def examples(draw: st.DrawFn) -> Example:
    """Definitions first; the server's records and the reads then name mostly their keys."""
    document = None if not draw(st.integers(0, 5)) else draw(any_documents)
    known = tuple(f["key"] for f in document["flags"]) if document else KEYS[:3]
    options = draw(client_options())
    if "flag_fallback_cache_url" in options:
        script = draw(st.lists(flags_answers(known), min_size=1, max_size=2).map(_answered))
    else:
        script = draw(reply_scripts(known))
    status = draw(st.sampled_from((200,) * 18 + (500, 402)))
    calls = draw(st.lists(reads(known), min_size=1, max_size=6))
    reloads: tuple[ServerReply, ...] = ()
    if document is not None and status == 200 and not draw(st.integers(0, 4)):
        calls, reloads = draw(_with_reloads(document, calls))
    if not draw(st.integers(0, 5)):
        _minimal_flag_called_events(document, script, reloads)
    config = tuple(draw(config_scripts()))
    return Example(document, script, calls, status, options, config, reloads)


def _answered(bodies: list[dict[str, Any]]) -> list[ServerReply]:
    """Replies that all answer, with no quota limit: with a fallback cache, nothing then
    reads a remembered value.

    The two SDKs remember different things, by design: posthog-python keeps the result of
    each older single-flag read (local or remote) and only those reads fall back on it;
    hogkit keeps every `/flags` answer, and its `evaluate_flags` snapshots fall back on
    them too. Once a request fails after an earlier read, what each reads back differs;
    that is left out here, and only "remembering changes no answer" is compared.
    """
    for body in bodies:
        body.pop("quotaLimited", None)
    return [ServerReply("answer", body) for body in bodies]


@st.composite
def client_options(draw: st.DrawFn) -> dict[str, Any]:
    """Constructor options that change what a read reports or sends: super properties,
    GeoIP, a fallback cache (see `_answered` for what of it is compared), events marked as
    a historical import, compressed or not, and sent by a background sender in batches."""
    options: dict[str, Any] = {}
    if not draw(st.integers(0, 5)):
        options["super_properties"] = draw(st.sampled_from(SUPER_PROPERTIES))
    if not draw(st.integers(0, 5)):
        options["disable_geoip"] = False
    if not draw(st.integers(0, 4)):
        options["flag_fallback_cache_url"] = "memory://local/?ttl=300&size=100"
    if not draw(st.integers(0, 5)):
        options["historical_migration"] = draw(st.booleans())
    if not draw(st.integers(0, 5)):
        options["gzip"] = draw(st.booleans())
    if not draw(st.integers(0, 4)):
        # Events queued for a background sender, in batches of one, a few, or all of them;
        # a short interval, as posthog-python's flush waits for the batch to fill or the
        # interval to end.
        options["sync_mode"] = False
        options["flush_at"] = draw(st.sampled_from((1, 2, 100)))
        options["flush_interval"] = 0.05
    return options


def _minimal_flag_called_events(
    document: dict[str, Any] | None, script: list[ServerReply], reloads: tuple[ServerReply, ...]
) -> None:
    """Switch on minimal `$feature_flag_called` events in the definitions (those of a reload
    too) and in every answer.

    Always in both: it is one setting of the project, so a server sends the same in each.
    (posthog-python keeps a single gate for the whole client that the latest definitions or
    `/flags` answer overwrites, so with the two disagreeing a locally evaluated read takes
    its shape from whichever came last; hogkit takes it from the source of the read.)
    """
    if document is not None:
        document["minimal_flag_called_events"] = True
    for reload in reloads:
        if reload.kind == "answer" and isinstance(reload.body, dict) and reload.body:
            reload.body["minimal_flag_called_events"] = True
    for reply in script:
        if reply.kind == "answer":
            reply.body["minimalFlagCalledEvents"] = True


__all__ = [
    "DECISION_READS",
    "GHOST",
    "KEYS",
    "PEOPLE",
    "RELOAD",
    "REMOTE_CONFIG",
    "REMOTE_CONFIG_BODIES",
    "Example",
    "Read",
    "ServerReply",
    "capture_reads",
    "client_options",
    "config_scripts",
    "decision_reads",
    "evaluate_reads",
    "examples",
    "flag_records",
    "flags_answers",
    "reads",
    "reload_replies",
    "reply_scripts",
    "structured_documents",
]
