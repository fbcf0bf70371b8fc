"""`HogkitProvider`: OpenFeature flag resolution backed by a hogkit `Client`.

Each resolution is one `evaluate_flags` call for one key, so it takes the client's normal
path: local evaluation first, the server for what local evaluation cannot decide (unless
`local_only`), and `$feature_flag_called` on the read. The provider adds the OpenFeature
view: typed values, reasons that say what decided (see `reasons`), the variant, and flag
metadata (condition index, flag id and version, whether the value was computed locally).
Provider events come from the client's definitions (see `watch`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from hogkit.core import FlagResult
from hogkit.core.remote import RemoteFlag
from hogkit.transport.client import Client
from hogkit.transport.evaluations import FlagEvaluations
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.hook import Hook
from openfeature.provider import AbstractProvider, Metadata
from openfeature.track import TrackingEventDetails

from .context import subject_of
from .reasons import reason_of
from .typed import convert
from .watch import DefinitionsWatch

__all__ = ["HogkitProvider"]

T = TypeVar("T")
ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]

_UNRESOLVED_CODES = {"missing_context": ErrorCode.INVALID_CONTEXT}
_VARIANTS = {True: "true", False: "false"}


class HogkitProvider(AbstractProvider):
    """An OpenFeature provider over a hogkit `Client` (which it does not own or shut down).

    `parse_variant`: read numbers and objects from the variant text rather than the
    payload. `local_only`: never ask the server; flags local evaluation cannot decide
    resolve to ERROR. `stale_after`: seconds after which polled definitions not confirmed
    by the server make the provider STALE. `hooks`: provider hooks to run on every
    evaluation.
    """

    def __init__(
        self,
        client: Client,
        *,
        parse_variant: bool = False,
        local_only: bool = False,
        stale_after: float = 300.0,
        check_interval: float = 5.0,
        hooks: Sequence[Hook] = (),
    ) -> None:
        super().__init__()
        self.client = client
        self.parse_variant = parse_variant
        self.local_only = local_only
        self._hooks = list(hooks)
        self.watch = DefinitionsWatch(
            client, self.emit, stale_after=stale_after, check_interval=check_interval
        )

    # ------------------------------------------------------------------ lifecycle

    def get_metadata(self) -> Metadata:
        return Metadata(name="hogkit")

    def get_provider_hooks(self) -> list[Hook]:
        return list(self._hooks)

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Wait (bounded) for the first definitions; raises when the server refuses them."""
        self.watch.start()

    def shutdown(self) -> None:
        """Stops watching the definitions. The client stays the caller's to shut down."""
        self.watch.stop()

    # ------------------------------------------------------------------ resolvers

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(bool, flag_key, default_value, evaluation_context)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(str, flag_key, default_value, evaluation_context)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(int, flag_key, default_value, evaluation_context)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(float, flag_key, default_value, evaluation_context)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: ObjectValue,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[ObjectValue]:
        return self._resolve(dict, flag_key, default_value, evaluation_context)

    async def resolve_boolean_details_async(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self.resolve_boolean_details(flag_key, default_value, evaluation_context)

    async def resolve_string_details_async(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self.resolve_string_details(flag_key, default_value, evaluation_context)

    async def resolve_integer_details_async(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self.resolve_integer_details(flag_key, default_value, evaluation_context)

    async def resolve_float_details_async(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self.resolve_float_details(flag_key, default_value, evaluation_context)

    async def resolve_object_details_async(
        self,
        flag_key: str,
        default_value: ObjectValue,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[ObjectValue]:
        return self.resolve_object_details(flag_key, default_value, evaluation_context)

    # ------------------------------------------------------------------ tracking

    def track(
        self,
        tracking_event_name: str,
        evaluation_context: EvaluationContext | None = None,
        tracking_event_details: TrackingEventDetails | None = None,
    ) -> None:
        """A tracking call is a captured event: the targeting key is the distinct id, the
        details' attributes are properties, and its value is the `$value` property."""
        subject = subject_of(evaluation_context)
        properties: dict[str, Any] = {}
        if tracking_event_details is not None:
            properties.update(tracking_event_details.attributes)
            if tracking_event_details.value is not None:
                properties["$value"] = tracking_event_details.value
        self.client.capture(
            tracking_event_name,
            distinct_id=subject.distinct_id,
            properties=properties,
            groups=subject.groups or None,
        )

    # ------------------------------------------------------------------ the work

    def _resolve(
        self, kind: type, key: str, default: T, context: EvaluationContext | None
    ) -> FlagResolutionDetails[T]:
        subject = subject_of(context)
        if subject.distinct_id is None:
            return _error(default, ErrorCode.TARGETING_KEY_MISSING, "no targeting key")
        snap = self.client.evaluate_flags(
            subject.distinct_id,
            person_properties=subject.person_properties,
            groups=subject.groups,
            group_properties=subject.group_properties,
            flag_keys=[key],
            only_evaluate_locally=self.local_only,
        )
        value = snap.get_flag(key)
        if value is None:
            return _missing(default, key, snap)
        local = snap.local_result(key)
        reason, metadata = _explain(snap, key, local)
        variant = value if isinstance(value, str) else _VARIANTS[value]
        if kind is bool:  # the commonest resolver needs no payload
            on: Any = value is not False
            return FlagResolutionDetails(on, None, None, reason, variant, metadata)
        payload = local.payload if local is not None else snap.get_flag_payload(key)
        converted, code, message = convert(kind, value, payload, self.parse_variant)
        if code is not None:
            return FlagResolutionDetails(default, code, message, Reason.ERROR, None, metadata)
        if converted is None:
            return FlagResolutionDetails(default, None, None, reason, variant, metadata)
        return FlagResolutionDetails(converted, None, None, reason, variant, metadata)


def _error(default: T, code: ErrorCode, message: str) -> FlagResolutionDetails[T]:
    return FlagResolutionDetails(default, code, message, Reason.ERROR)


def _missing(default: T, key: str, snap: FlagEvaluations) -> FlagResolutionDetails[T]:
    """No value: not defined anywhere, or not decidable without a server that answered."""
    unresolved = snap.unresolved.get(key)
    if unresolved is not None:
        code = _UNRESOLVED_CODES.get(str(unresolved), ErrorCode.GENERAL)
        detail = f"; {', '.join(snap.errors)}" if snap.errors else ""
        return _error(default, code, f"not decidable locally ({unresolved}){detail}")
    record = snap.remote_record(key)
    if record is not None and record.server_failed:
        return _error(default, ErrorCode.GENERAL, "the server could not evaluate the flag")
    if snap.errors:
        return _error(default, ErrorCode.GENERAL, f"flag unavailable: {', '.join(snap.errors)}")
    return _error(default, ErrorCode.FLAG_NOT_FOUND, f"no flag {key!r}")


def _explain(
    snap: FlagEvaluations, key: str, local: FlagResult | None
) -> tuple[Reason, dict[str, bool | int | float | str]]:
    """(reason, flag metadata) for a flag that has a value (`local`: its local result)."""
    metadata: dict[str, bool | int | float | str] = {"evaluated_locally": local is not None}
    if local is not None:
        reason = reason_of(local)
        index = local.reason.condition_index
        flag_id, version = local.id, local.version
        metadata["hogkit_reason"] = local.reason.kind
    else:
        record = snap.remote_record(key)
        enabled = record is not None and record.enabled
        reason = Reason.TARGETING_MATCH if enabled else Reason.DEFAULT
        index = record.condition_index if record is not None else None
        flag_id = record.id if record is not None else None
        version = record.version if record is not None else None
        if record is not None and record.reason_code:
            metadata["hogkit_reason"] = record.reason_code
        if record is not None:
            metadata.update(_rule_metadata(record))
    for name, item in (("condition_index", index), ("flag_id", flag_id), ("flag_version", version)):
        if item is not None:
            metadata[name] = item
    return reason, metadata


def _rule_metadata(record: RemoteFlag) -> dict[str, bool | int | float | str]:
    """What a `/flags?v=4` record says decided the flag: config version, rule, experiment
    and arm, under their wire names (only those it has)."""
    fields = (
        ("config_version", record.config_version),
        ("rule_id", record.rule_id),
        ("rule_type", record.rule_type),
        ("experiment_id", record.experiment_id),
        ("variant_key", record.variant_key),
    )
    return {name: item for name, item in fields if item is not None}
