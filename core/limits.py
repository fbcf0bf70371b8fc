"""Size limits of events and `/batch/` bodies, as posthog-python 7.91.1 sets them."""

from __future__ import annotations

__all__ = ["BATCH_OVERHEAD_BYTES", "MAX_BATCH_BYTES", "MAX_EVENT_BYTES"]

MAX_EVENT_BYTES = 900 * 1024
MAX_BATCH_BYTES = 5 * 1024 * 1024
BATCH_OVERHEAD_BYTES = 1024
"""Room `split_batches` leaves for the envelope (`api_key`, `sent_at`, field names)."""
