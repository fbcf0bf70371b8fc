"""Framework integrations: each module imports its framework, so import only the one you use."""

__all__: list[str] = []
