"""hogkit.openfeature: an OpenFeature provider backed by a hogkit `Client`.

Needs the `openfeature` extra (`pip install 'hogkit[openfeature]'`)::

    from openfeature import api
    from hogkit.openfeature import HogkitProvider

    api.set_provider_and_wait(HogkitProvider(client))
"""

from __future__ import annotations

from .context import Subject, subject_of
from .provider import HogkitProvider
from .reasons import reason_of
from .watch import changed_keys

__all__ = ["HogkitProvider", "Subject", "changed_keys", "reason_of", "subject_of"]
