"""pytest fixtures for code that reads hogkit flags (registered through the `pytest11`
entry point, so installing hogkit makes them available without a conftest).

- `hogkit_sink`: a `CaptureSink` for the test.
- `hogkit_client`: a `Client` delivering synchronously into `hogkit_sink`, with no
  network and no definitions until the test overrides some; shut down afterwards.
- `override_flags`: `override_flags(values, payloads=None, client=None)` pins fixed values
  on `client` (default `hogkit_client`) for the rest of the test, and undoes it after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from typing import Any

import pytest
from hogkit.transport.client import Client

from .builder import FlagBuilder
from .overrides import override_flags as _override_block
from .sink import CaptureSink

__all__ = ["hogkit_client", "hogkit_sink", "override_flags"]

OverrideFlags = Callable[..., dict[str, Any]]


@pytest.fixture
def hogkit_sink() -> CaptureSink:
    return CaptureSink()


@pytest.fixture
def hogkit_client(hogkit_sink: CaptureSink) -> Iterator[Client]:
    client = Client(
        "phc_test",
        "http://127.0.0.1:9",
        transport=hogkit_sink,
        sync_mode=True,
        flag_definitions={"flags": []},
    )
    try:
        yield client
    finally:
        client.shutdown(0.0)


@pytest.fixture
def override_flags(hogkit_client: Client) -> Iterator[OverrideFlags]:
    with ExitStack() as stack:

        def apply(
            values: Mapping[str, bool | str | FlagBuilder],
            payloads: Mapping[str, Any] | None = None,
            client: Any = None,
        ) -> dict[str, Any]:
            target = hogkit_client if client is None else client
            return stack.enter_context(_override_block(target, values, payloads))

        yield apply
