"""Fixed flag values for code under test: no network, and the normal reporting path.

`override_flags` turns `{key: value}` into real definitions (an unconditional flag for
True, an inactive one for False, a single 100 % variant for a string) and puts them in
force on the client for the block (its flag service's `replace_definitions`, temporarily).
Evaluation then runs the ordinary local path, so reads still send `$feature_flag_called`
and payloads come back decoded, while nothing asks the server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from .builder import FlagBuilder, document

__all__ = ["FlagOverrideTarget", "definitions_for", "override_flags"]


class FlagOverrideTarget(Protocol):
    """What `override_flags` needs from a client's flag service."""

    def replace_definitions(self, source: Any, *, temporary: bool = False) -> Any: ...


def _builder(key: str, value: bool | str | FlagBuilder, payload: Any) -> FlagBuilder:
    if isinstance(value, FlagBuilder):
        return value
    flag = FlagBuilder(key)
    if value is False:
        flag.active(False)
    elif isinstance(value, str):
        flag.variants({value: 100})
    elif value is not True:
        raise TypeError(f"override for {key!r} must be True, False, a variant or a FlagBuilder")
    if payload is not None and value is not False:
        flag.payload(value if isinstance(value, str) else True, payload)
    return flag


def definitions_for(
    values: Mapping[str, bool | str | FlagBuilder], payloads: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The definitions document that gives everyone `values` (and `payloads`)."""
    extra = dict(payloads or {})
    return document([_builder(key, value, extra.get(key)) for key, value in values.items()])


def _service_of(target: Any) -> FlagOverrideTarget:
    """The flag service of a client, or of a module's `default_client`."""
    for candidate in (target, getattr(target, "default_client", None)):
        service = getattr(candidate, "flag_service", None)
        if service is not None and hasattr(service, "replace_definitions"):
            return service  # type: ignore[no-any-return]
    raise TypeError("override_flags needs a hogkit Client or a module with a default_client")


@contextlib.contextmanager
def override_flags(
    client_or_module: Any,
    values: Mapping[str, bool | str | FlagBuilder],
    payloads: Mapping[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Within the block, the client evaluates only `values` (locally, for everyone);
    afterwards it goes back to its own definitions. Yields the definitions document."""
    service = _service_of(client_or_module)
    doc = definitions_for(values, payloads)
    restore = service.replace_definitions(doc, temporary=True)
    try:
        yield doc
    finally:
        restore()
