"""A tiny application that reads flags the way a real one would (the sample under test)."""

from __future__ import annotations

from typing import Any

from hogkit.transport.client import Client


def checkout_page(client: Client, user_id: str, plan: str) -> dict[str, Any]:
    """Which checkout a user sees, and the discount the experiment's payload sets."""
    flags = client.evaluate_flags(user_id, person_properties={"plan": plan})
    layout = flags.get_flag("checkout-layout") or "classic"
    discount = flags.get_flag_payload("checkout-layout") or {}
    client.capture(
        "checkout viewed", distinct_id=user_id, properties={"layout": layout}, flags=flags
    )
    return {
        "layout": layout,
        "discount": discount.get("discount", 0),
        "beta": flags.is_enabled("beta-banner"),
    }
