"""Values whose `str()` is not what JSON writes for them: the str, int and float subclasses
(a str-based enum, an int-based enum with its own `__str__`) that event shapes must send as
their characters or numbers, and an object sent as what its `dict()` returns. Shared by the event differential and its regression tests."""

from __future__ import annotations

__all__ = ["Count", "Exported", "Label", "Ratio"]


class Label(str):
    """A str subclass whose `str()` is not its text."""

    def __str__(self) -> str:
        return f"Label<{str.__str__(self)}>"


class Count(int):
    """An int subclass whose `str()` is not its digits."""

    def __str__(self) -> str:
        return f"Count<{int.__repr__(self)}>"


class Ratio(float):
    """A float subclass whose `str()` is not its digits."""

    def __str__(self) -> str:
        return f"Ratio<{float.__repr__(self)}>"


class Exported:
    """An application object that exports itself through `dict()`, as pydantic v1 models
    do, without being one."""

    def dict(self) -> dict[str, object]:
        return {"sku": "a-1", "qty": 2, "tags": ("x",)}
