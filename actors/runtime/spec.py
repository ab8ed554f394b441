"""BehaviourSpec: a behaviour factory that can cross a process boundary.

A factory is normally a closure (``lambda: Conductor(settings, registry=...)``),
which works on the asyncio host and nowhere else: a closure cannot be sent to
another process. A ``BehaviourSpec`` names the class (or factory function) by
its import path and keeps the keyword arguments; calling it builds the
behaviour, so it is a factory on every host. On the Thespian host its
arguments travel in the wire form, each converted by the type hint of the
parameter it feeds (refs included: see ``aiway.actors.runtime.thespian.wire``).
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any

from aiway.actors.runtime.behaviour import Behaviour


class SpecError(TypeError):
    """A spec names something that cannot be imported, or an argument that has no wire form."""


def import_path(obj: Callable[..., Any]) -> str:
    """``module:qualname`` of a module-level class or function (refused for closures)."""
    qualname = getattr(obj, "__qualname__", "")
    module = getattr(obj, "__module__", "")
    if not qualname or not module or "<locals>" in qualname or "<lambda>" in qualname:
        raise SpecError(
            f"{obj!r} is not importable by name (a lambda, or defined inside a function); "
            "a BehaviourSpec needs a module-level class or function"
        )
    return f"{module}:{qualname}"


_RESOLVED: dict[str, Callable[..., Any]] = {}


def resolve(path: str) -> Callable[..., Any]:
    """The class or function named ``module:qualname`` (imported on first use)."""
    found = _RESOLVED.get(path)
    if found is not None:
        return found
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise SpecError(f"{path!r} is not a 'module:qualname' path")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"cannot import {path!r}: {exc}") from None
    if not callable(obj):
        raise SpecError(f"{path!r} is not callable")
    _RESOLVED[path] = obj
    return obj  # type: ignore[no-any-return]


class BehaviourSpec:
    """An importable description of ``factory(**kwargs)``.

    ``BehaviourSpec.of(Conductor, settings=..., registry=ref)`` checks at once
    that the factory is importable by name and that every keyword is a
    parameter of it. Calling the spec builds a new behaviour each time (a
    restart builds a fresh one, as with any factory).
    """

    __slots__ = ("kwargs", "target")

    def __init__(self, target: str, kwargs: Mapping[str, object]) -> None:
        self.target = target
        self.kwargs = dict(kwargs)

    @classmethod
    def of(cls, factory: Callable[..., Behaviour], /, **kwargs: object) -> BehaviourSpec:
        """A spec of ``factory(**kwargs)``; raises ``SpecError`` for a closure or a bad keyword."""
        path = import_path(factory)
        parameters = inspect.signature(factory).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        unknown = [name for name in kwargs if name not in parameters and not takes_any]
        if unknown:
            raise SpecError(f"{path} takes no argument named {', '.join(sorted(unknown))}")
        return cls(path, kwargs)

    @property
    def factory(self) -> Callable[..., Any]:
        """The class or function the spec names."""
        return resolve(self.target)

    @property
    def edge(self) -> bool:
        """True when the spec builds an edge actor (which runs on the asyncio host only)."""
        return bool(getattr(self.factory, "edge", False))

    def hints(self) -> dict[str, Any]:
        """The type hint of each keyword argument (``object`` where there is none)."""
        return argument_hints(self.factory, self.kwargs)

    def __call__(self) -> Behaviour:
        behaviour = self.factory(**self.kwargs)
        if not isinstance(behaviour, Behaviour):
            raise SpecError(f"{self.target} built {type(behaviour).__name__}, not a Behaviour")
        return behaviour

    def __repr__(self) -> str:
        return f"BehaviourSpec({self.target!r}, {sorted(self.kwargs)})"


def argument_hints(factory: Callable[..., Any], kwargs: Mapping[str, object]) -> dict[str, Any]:
    """Resolved type hints of the parameters of ``factory`` that ``kwargs`` fills."""
    target = factory.__init__ if isinstance(factory, type) else factory  # type: ignore[misc]
    try:
        hints = typing.get_type_hints(target)
    except (NameError, TypeError) as exc:
        raise SpecError(
            f"the type hints of {import_path(factory)} cannot be resolved ({exc}); "
            "a BehaviourSpec converts each argument by its hint"
        ) from None
    return {name: hints.get(name, object) for name in kwargs}
