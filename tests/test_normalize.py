"""Property-value normalisation: every rule, and the cases that must not crash."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import json
import subprocess
import sys
import uuid
from typing import Any

import attrs
import msgspec
import pytest
from hogkit.core import is_plain, normalize, normalize_properties
from hogkit.core.normalize import CYCLE_MARKER, DEPTH_MARKER, MAX_DEPTH, unprintable_marker


def encodes(value: Any) -> Any:
    """The value survives strict JSON (no NaN) and UTF-8 encoding unchanged."""
    text = json.dumps(value, allow_nan=False)
    assert json.loads(text) == value
    assert msgspec.json.decode(msgspec.json.encode(value)) == value
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        (0, 0),
        (-(2**80), -(2**80)),
        (1.5, 1.5),
        (True, True),
        (None, None),
        (
            dt.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc),
            "2024-01-02T03:04:05.000006+00:00",
        ),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.time(13, 14), "13:14:00"),
        (decimal.Decimal("12.25"), 12.25),
        (decimal.Decimal("NaN"), None),
        (decimal.Decimal("sNaN"), None),
        (decimal.Decimal("-Infinity"), None),
        (decimal.Decimal("1e400"), None),
        (uuid.UUID(int=5), "00000000-0000-0000-0000-000000000005"),
        ((1, "a"), [1, "a"]),
        ({3}, [3]),
        (frozenset({"x"}), ["x"]),
        (collections.deque([1, 2]), [1, 2]),
        (b"caf\xc3\xa9", "café"),
        (b"bad \xff byte", "bad \ufffd byte"),
        (bytearray(b"ab"), "ab"),
        (memoryview(b"mv"), "mv"),
        (float("nan"), None),
        (float("inf"), None),
        (float("-inf"), None),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        (dt.timedelta(seconds=90), "0:01:30"),
        (complex(1, 2), "(1+2j)"),
        (range(3), "range(0, 3)"),
        ({"k": {"n": float("nan")}}, {"k": {"n": None}}),
    ],
)
def test_rules(value: Any, expected: Any) -> None:
    assert normalize(value) == expected
    encodes(normalize(value))


class Color(enum.Enum):
    RED = "red"


class Size(str, enum.Enum):
    BIG = "big"


class Level(enum.IntEnum):
    HIGH = 3


class Ratio(float):
    pass


def test_subclasses_of_plain_types_become_plain_values() -> None:
    assert normalize(Size.BIG) == "big" and type(normalize(Size.BIG)) is str
    assert normalize(Level.HIGH) == 3 and type(normalize(Level.HIGH)) is int
    assert normalize(Ratio(0.5)) == 0.5 and type(normalize(Ratio(0.5))) is float
    assert normalize(Ratio("nan")) is None
    assert normalize(Color.RED) == "Color.RED"  # a plain Enum is "anything else": str()


@dataclasses.dataclass
class Point:
    x: int
    y: float
    tags: set[str]


@attrs.define
class Box:
    corner: Point
    label: bytes


class Struct(msgspec.Struct):
    name: str
    when: dt.date


class FakePydantic:
    def model_dump(self) -> dict[str, Any]:
        return {"field": decimal.Decimal("2")}


def test_structured_objects_become_objects() -> None:
    box = Box(Point(1, 2.0, {"a"}), b"lbl")
    assert normalize(box) == {"corner": {"x": 1, "y": 2.0, "tags": ["a"]}, "label": "lbl"}
    assert normalize(Struct("s", dt.date(2020, 2, 2))) == {"name": "s", "when": "2020-02-02"}
    assert normalize(FakePydantic()) == {"field": 2.0}
    assert normalize(Point) == str(Point)  # a class, not an instance


def test_mapping_keys_become_strings() -> None:
    out = normalize({1: "a", None: "b", False: "c", 2.5: "d", (1, 2): "e", "ok": "f"})
    assert out == {"1": "a", "null": "b", "false": "c", "2.5": "d", "(1, 2)": "e", "ok": "f"}
    encodes(out)
    proxy = normalize(dict(a=1).keys().mapping)  # a read-only Mapping that is not a dict
    assert proxy == {"a": 1}


class BrokenStr:
    def __str__(self) -> str:
        raise RuntimeError("nope")


class BrokenDump:
    def model_dump(self) -> dict[str, Any]:
        raise ValueError("cannot")

    def __str__(self) -> str:
        return "BrokenDump()"


class ExplodingMapping(collections.abc.Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Any:
        raise RuntimeError("cannot iterate")

    def __len__(self) -> int:
        return 1


def test_nothing_raises() -> None:
    assert (
        normalize(BrokenStr())
        == unprintable_marker(BrokenStr())
        == "[hogkit: unprintable BrokenStr]"
    )
    assert normalize({"a": BrokenStr()}) == {"a": "[hogkit: unprintable BrokenStr]"}
    assert normalize(BrokenDump()) == "BrokenDump()"
    assert normalize({"m": ExplodingMapping()})["m"].startswith("<")
    assert normalize_properties(ExplodingMapping()) == {}


def test_cycles_are_cut_with_a_marker() -> None:
    data: dict[str, Any] = {"name": "root"}
    data["self"] = data
    items: list[Any] = [1]
    items.append(items)
    data["items"] = items
    out = normalize(data)
    assert out == {"name": "root", "self": CYCLE_MARKER, "items": [1, CYCLE_MARKER]}
    encodes(out)


def test_shared_but_acyclic_values_are_kept() -> None:
    shared = {"v": 1}
    assert normalize({"a": shared, "b": [shared, shared]}) == {
        "a": {"v": 1},
        "b": [{"v": 1}, {"v": 1}],
    }


def test_deep_nesting_is_cut_with_a_marker() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH * 3):
        deep = [deep]
    out = normalize({"deep": deep})
    encodes(out)
    depth, node = 0, out["deep"]
    while isinstance(node, list):
        node, depth = node[0], depth + 1
    assert node == DEPTH_MARKER
    assert depth == MAX_DEPTH - 1
    shallow: Any = "leaf"
    for _ in range(10):
        shallow = {"n": shallow}
    assert normalize(shallow) == shallow


def test_flat_dicts_are_copied_not_shared() -> None:
    props = {"a": 1, "b": "x", "c": None, "d": 2.5, "e": False}
    out = normalize_properties(props)
    assert out == props and out is not props
    assert normalize(props) == props


def test_non_ascii_text_is_kept() -> None:
    assert normalize({"ключ": "значение 🎉"}) == {"ключ": "значение 🎉"}
    assert normalize({"bad\udfffkey": 1}) == {"bad\ufffdkey": 1}


def test_is_plain_accepts_only_flat_dicts_of_exact_plain_types() -> None:
    assert is_plain({}) and is_plain({"a": 1, "b": "x", "c": None, "d": 2.5, "e": False})
    assert is_plain({"nan": float("nan"), "bad": "\udfff"})  # left for the encoder to judge
    assert not is_plain({"a": [1]})
    assert not is_plain({"a": Color.RED})
    assert not is_plain({"a": Size.BIG})  # a str subclass is not plain
    assert not is_plain({1: "a"})
    assert not is_plain(collections.OrderedDict(a=1))
    assert not is_plain([("a", 1)])


def test_attrs_classes_are_read_without_the_core_importing_attrs() -> None:
    # Measured beyond what msgspec and xxhash load themselves (msgspec brings `threading`
    # on Python 3.10, through `uuid` and `platform`).
    code = (
        "import sys; "
        "watched = lambda: {m for m in sys.modules "
        "if m.split('.')[0] in {'attr', 'attrs', 'threading'}}; "
        "import msgspec, xxhash; before = watched(); "
        "import hogkit.core; "
        "print(sorted(watched() - before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert normalize(Box(Point(0, 0.5, set()), b"")) == {
        "corner": {"x": 0, "y": 0.5, "tags": []},
        "label": "",
    }
