"""Fixed flag values for code under test: no network, and the normal reporting path.

`override_flags` turns `{key: value}` into real definitions (an unconditional flag for
True, an inactive one for False, a single 100 % variant for a string), compiles them and
pins them on the client. Evaluation then runs the ordinary local path, so reads still send
`$feature_flag_called` and payloads come back decoded, while nothing asks the server.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from .builder import FlagBuilder, document

__all__ = ["FlagOverrideTarget", "definitions_for", "override_flags"]


class FlagOverrideTarget(Protocol):
    """What `override_flags` needs from a client."""

    def pin_flag_definitions(self, definitions: Any) -> Any: ...


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


def _client_of(target: Any) -> FlagOverrideTarget:
    """The client itself, or a module holding one as `default_client`."""
    if hasattr(target, "pin_flag_definitions"):
        return target  # type: ignore[no-any-return]
    client = getattr(target, "default_client", None)
    if client is not None and hasattr(client, "pin_flag_definitions"):
        return client  # type: ignore[no-any-return]
    raise TypeError("override_flags needs a hogkit Client or a module with a default_client")


@contextlib.contextmanager
def override_flags(
    client_or_module: Any,
    values: Mapping[str, bool | str | FlagBuilder],
    payloads: Mapping[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Within the block, the client evaluates only `values` (locally, for everyone);
    afterwards it goes back to its own definitions. Yields the definitions document."""
    client = _client_of(client_or_module)
    doc = definitions_for(values, payloads)
    undo = client.pin_flag_definitions(doc)
    try:
        yield doc
    finally:
        undo()
