"""The `/flags` fallback's decisions: when to ask the server, and how its answer combines
with local evaluation.

Local evaluation always runs first; only what it could not decide goes to the server, in
one request. A local value is never replaced by a remote one, and a failed request leaves
the local values standing; a flag it left without a value reads as
`local_evaluation_inconclusive` or `flag_missing` in `$feature_flag_error`. The shell
performs the request; everything else is decided here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .remote import FlagsResponse, RemoteFlag
from .snapshot import Snapshot

__all__ = [
    "QUOTA_LIMITED",
    "RemoteMerge",
    "failure_code",
    "fallback_keys",
    "is_quota_limited",
    "merge_remote",
    "needs_remote",
    "reported_errors",
]

QUOTA_LIMITED = "quota_limited"
"""The error code of a request the server answered with no flags because of a quota."""

_FAILURE_CODES: Mapping[str, str] = MappingProxyType(
    {
        "timeout": "timeout",
        "refused": "connection_error",
        "network": "connection_error",
    }
)


def needs_remote(local: Snapshot | None, flag_keys: Sequence[str] | None) -> bool:
    """Whether local evaluation left anything for the server to decide.

    True without definitions, when some flag was unresolved (it needs server-side data such
    as a person's properties) or failed, or when a requested key has no local value at all.
    """
    if local is None or local.unresolved or local.failed:
        return True
    return flag_keys is not None and any(local.get_flag(k) is None for k in flag_keys)


def fallback_keys(
    local: Snapshot | None,
    unresolved: Mapping[str, Any],
    flag_keys: Sequence[str] | None,
) -> list[str] | None:
    """The flags a remembered `/flags` answer may fill after a failed request.

    Only what local evaluation left undecided: its unresolved flags and the requested keys
    it has no value for. None means every remembered flag (no definitions, no key list).
    """
    if local is None:
        return list(flag_keys) if flag_keys is not None else None
    wanted = set(unresolved)
    wanted.update(k for k in flag_keys or () if local.get_flag(k) is None)
    return sorted(wanted)


def failure_code(kind: str, status: int | None = None) -> str:
    """The error code a read reports after a failed request.

    `kind` is "status" for an HTTP answer other than 200 (`api_error_<status>`), a network
    failure's kind ("timeout", "refused", "network"), or anything else for an answer that
    could not be read.
    """
    if kind == "status" and status is not None:
        return f"api_error_{status}"
    return _FAILURE_CODES.get(kind, "unknown_error")


_REPORTED = frozenset({"errors_while_computing_flags", QUOTA_LIMITED})


def reported_errors(errors: tuple[str, ...]) -> tuple[str, ...]:
    """The evaluation problems a snapshot read names in `$feature_flag_error`: the answer's
    own (`errors_while_computing_flags`, `quota_limited`). A request that failed outright
    is not a read's error: the read reports what it lacks (`local_evaluation_inconclusive`
    or `flag_missing`), as posthog-python's snapshot reads do."""
    if not errors:  # the usual evaluation, on every reported read: no filtering to set up
        return errors
    return tuple(e for e in errors if e in _REPORTED)


def is_quota_limited(document: object) -> bool:
    """True when a decoded `/flags` or definitions document says the flags quota is used up."""
    quota = document.get("quotaLimited") if isinstance(document, dict) else None
    return isinstance(quota, list) and "feature_flags" in quota


class RemoteMerge:
    """What a `/flags` answer adds to a local snapshot (see `merge_remote`)."""

    __slots__ = ("errors", "remote", "unresolved")

    def __init__(
        self,
        remote: dict[str, RemoteFlag],
        unresolved: dict[str, Any],
        errors: tuple[str, ...],
    ) -> None:
        self.remote = remote
        self.unresolved = unresolved
        self.errors = errors


def merge_remote(
    local: Snapshot | None,
    unresolved: Mapping[str, Any],
    flag_keys: Sequence[str] | None,
    response: FlagsResponse | None,
    error: str | None,
    remembered: Mapping[str, RemoteFlag] | None = None,
) -> RemoteMerge:
    """Combine local results with a `/flags` answer (`response`) or its failure (`error`).

    Remote records fill only the gaps local evaluation left, and only for requested keys; a
    flag stays unresolved while the server did not answer for it or failed to evaluate it.
    `errors` are the evaluation's problems: the answer's own, or the failed request's code
    (a read reports only some of them, see `reported_errors`).
    After a failure, `remembered` answers (an earlier response, see `fallback_keys`) fill
    the same gaps by the same rule.
    """
    records: Mapping[str, RemoteFlag] = {}
    errors: tuple[str, ...] = ()
    if response is not None:
        if response.errors_while_computing:
            errors = ("errors_while_computing_flags",)
        records = response.flags
    elif error is not None:
        errors = (error,)
        records = remembered or {}
    wanted = set(flag_keys) if flag_keys is not None else None
    remote: dict[str, RemoteFlag] = {}
    for key, record in records.items():
        if wanted is not None and key not in wanted:
            continue
        if local is not None and local.get_flag(key) is not None:
            continue
        remote[key] = record
    still = {k: r for k, r in unresolved.items() if k not in remote or remote[k].server_failed}
    return RemoteMerge(remote, still, errors)
