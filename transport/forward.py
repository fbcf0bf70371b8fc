"""`forward` and `attribute`: a Client method or setting that is a collaborator's.

The Client's public surface is large (posthog-python's, method for method), but its work
is done by collaborators, each holding one group of methods. `forward` puts a
collaborator's method on the Client under the same name: on first use it looks up the
bound method once and stores it on the instance, so later calls cost what a call of the
collaborator's method costs, with no wrapper in between. `attribute` does the same for a
setting (`client.disabled`, ...): reading or writing it reads or writes the collaborator's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

__all__ = ["attribute", "forward"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class forward(Generic[P, R]):
    """`name = forward("_collaborator", Collaborator.name)` in a class body."""

    def __init__(self, collaborator: str, method: Callable[Concatenate[Any, P], R]) -> None:
        self.collaborator = collaborator
        self.method = method
        self.name = method.__name__
        functools.update_wrapper(self, method)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __call__(self, obj: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        """Called on the class (`Client.get_feature_flag(client, ...)`), like a method."""
        method: Callable[P, R] = getattr(getattr(obj, self.collaborator), self.method.__name__)
        return method(*args, **kwargs)

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> forward[P, R]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> Callable[P, R]: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        bound = getattr(getattr(obj, self.collaborator), self.method.__name__)
        obj.__dict__[self.name] = bound  # a plain attribute from now on
        return bound


class attribute(Generic[T]):
    """`name = attribute[T]("_collaborator", "name", "doc")` in a class body: the
    collaborator's attribute `name`, read (and, unless `writable=False`, written) through
    the owner."""

    def __init__(
        self,
        collaborator: str,
        name: str,
        doc: str,
        *,
        writable: bool = True,
    ) -> None:
        self.collaborator = collaborator
        self.name = name
        self.__doc__ = doc
        self.writable = writable

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> attribute[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return getattr(getattr(obj, self.collaborator), self.name)

    def __set__(self, obj: object, value: T) -> None:
        if not self.writable:
            raise AttributeError(f"{self.name} cannot be set")
        setattr(getattr(obj, self.collaborator), self.name, value)
