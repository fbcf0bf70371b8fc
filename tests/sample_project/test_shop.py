"""The sample project's own tests, written as the README's "Testing your code's flags" shows:
the `hogkit_client`, `hogkit_sink` and `override_flags` fixtures come from the pytest plugin
hogkit registers; nothing here is set up by hand."""

from __future__ import annotations

from hogkit.testing import CaptureSink, FlagBuilder, override_flags, prop
from hogkit.transport.client import Client

from .shop import checkout_page


def test_fixed_values_from_the_fixture(
    hogkit_client: Client, hogkit_sink: CaptureSink, override_flags: object
) -> None:
    override_flags(  # type: ignore[operator]
        {"checkout-layout": "one-page", "beta-banner": True},
        payloads={"checkout-layout": {"discount": 10}},
    )
    page = checkout_page(hogkit_client, "user-1", "free")
    assert page == {"layout": "one-page", "discount": 10, "beta": True}
    hogkit_sink.assert_captured("checkout viewed", "user-1", layout="one-page")
    assert hogkit_sink.flag_calls("checkout-layout", "user-1") == ["one-page"]
    assert hogkit_sink.flag_calls("beta-banner") == [True]


def test_the_override_ends_with_the_test(hogkit_client: Client) -> None:
    assert checkout_page(hogkit_client, "user-1", "free")["layout"] == "classic"


def test_targeting_written_with_the_builder(
    hogkit_client: Client, hogkit_sink: CaptureSink
) -> None:
    layout = (
        FlagBuilder("checkout-layout").variants({"one-page": 100}).condition(prop("plan", "pro"))
    )
    with override_flags(hogkit_client, {"checkout-layout": layout, "beta-banner": False}):
        assert checkout_page(hogkit_client, "user-2", "pro")["layout"] == "one-page"
        assert checkout_page(hogkit_client, "user-3", "free")["layout"] == "classic"
        assert checkout_page(hogkit_client, "user-3", "free")["beta"] is False
    assert [e["properties"]["layout"] for e in hogkit_sink.events("checkout viewed")] == [
        "one-page",
        "classic",
        "classic",
    ]
    assert len(hogkit_sink.events("checkout viewed", "user-3")) == 2
