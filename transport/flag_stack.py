"""`FlagStack`: a client's flag collaborators, composed from its options in one place.

The flag side of a Client is several collaborators around one `FlagService`: the snapshot
reads (`FlagReads`, `FlagAPI`), the older methods' rules (`LegacyFlags`) and the decision
getters (`FlagDecisions`). Building them together keeps the Client's constructor about
what a client is, and leaves one place that says how the flag parts fit.
"""

from __future__ import annotations

from collections.abc import Callable

from hogkit.core.event import Event, EventContext

from . import stamps
from .flag_api import FlagAPI
from .flag_decisions import FlagDecisions, RemoteConfig
from .flag_reads import FlagReads
from .flags import FlagService
from .flags_transport import FlagsTransport
from .ids import new_uuid
from .legacy_flags import LegacyFlags
from .options import ClientOptions
from .problems import Problems
from .transports import Transport

__all__ = ["FlagStack"]

_NO_HOST = "http://127.0.0.1"


class FlagStack:
    """The flag collaborators of one client (see the module docstring)."""

    __slots__ = ("api", "decisions", "legacy", "reads", "service")

    def __init__(
        self,
        options: ClientOptions,
        *,
        api_key: str,
        host: str,
        transport: Transport,
        problems: Problems,
        context: EventContext,
        emit: Callable[[Event], object],
        disabled: Callable[[], bool],
    ) -> None:
        o = options
        flags_transport = o.flags_transport
        if flags_transport is None and isinstance(transport, FlagsTransport):
            flags_transport = transport
        self.service = FlagService(
            api_key,
            host=host or _NO_HOST,
            secret_key=o.secret,
            flags_transport=flags_transport,
            poll_interval=o.poll_interval,
            request_timeout=o.feature_flags_request_timeout_seconds,
            request_retries=o.feature_flags_request_max_retries,
            flag_definitions=o.flag_definitions,
            enable_local_evaluation=o.enable_local_evaluation,
            disable_geoip=o.disable_geoip,
            disabled=disabled,
            emit=emit,
            context=context,
            dedup_capacity=o.flag_called_cache_size,
            event_time=stamps.clock,
            new_uuid=new_uuid,
            definitions_cache=o.flag_definition_cache_provider,
            follower_only=o.flag_definitions_follower_only,
            fallback_cache_url=o.flag_fallback_cache_url,
        )
        self.reads = FlagReads(self.service, problems)
        self.legacy = LegacyFlags(self.service, problems, disabled)
        where = RemoteConfig(
            host or _NO_HOST, api_key, o.secret, o.feature_flags_request_timeout_seconds
        )
        self.decisions = FlagDecisions(self.service, problems, disabled, where)
        self.api = FlagAPI(self.reads, problems, self.legacy)
