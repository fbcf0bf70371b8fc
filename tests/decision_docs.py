"""Definitions shared by the tests of the core's flag-request decisions: `on` needs nothing,
`pro` needs the person's `plan`, so a person without it leaves `pro` to the server."""

from __future__ import annotations

import datetime as dt

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
DOC = {
    "flags": [
        {"key": "on", "active": True, "filters": {"groups": [{"rollout_percentage": 100}]}},
        {
            "key": "pro",
            "active": True,
            "filters": {
                "groups": [
                    {
                        "properties": [{"key": "plan", "value": ["pro"], "operator": "exact"}],
                        "rollout_percentage": 100,
                    }
                ]
            },
        },
    ]
}
