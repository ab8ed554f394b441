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
from typing import ParamSpec

from aiway.actors.errors import AiwayError
from aiway.actors.runtime.behaviour import Behaviour

TypeHint = type[object]
"""A parameter's resolved type hint: a class, or a form such as ``list[str]`` or ``X | None``.

Spelled ``type``, as the converters that take hints (cattrs' ``structure``) spell it.
"""


class SpecError(AiwayError, TypeError):
    """A spec names something that cannot be imported, or an argument that has no wire form."""


def import_path(obj: object) -> str:
    """``module:qualname`` of a module-level class or function (refused for closures)."""
    qualname = getattr(obj, "__qualname__", "")
    module = getattr(obj, "__module__", "")
    if not qualname or not module or "<locals>" in qualname or "<lambda>" in qualname:
        raise SpecError(
            f"{obj!r} is not importable by name (a lambda, or defined inside a function); "
            "a BehaviourSpec needs a module-level class or function"
        )
    return f"{module}:{qualname}"


_RESOLVED: dict[str, object] = {}
_P = ParamSpec("_P")


def resolve(path: str) -> object:
    """The class or function named ``module:qualname`` (imported on first use; callable).

    For a path this process wrote itself (``BehaviourSpec.of``); a path that
    came from elsewhere goes through ``resolve_class``.
    """
    found = _RESOLVED.get(path)
    if found is not None:
        return found
    module_name, _, qualname = path.partition(":")
    if not module_name or not qualname:
        raise SpecError(f"{path!r} is not a 'module:qualname' path")
    try:
        obj: object = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise SpecError(f"cannot import {path!r}: {exc}") from None
    if not callable(obj):
        raise SpecError(f"{path!r} is not callable")
    _RESOLVED[path] = obj
    return obj


#: packages whose classes a path from another process may name (see ``trust_package``)
_TRUSTED_PACKAGES: set[str] = {"aiway"}
_CLASSES: dict[str, type] = {}


def trust_package(name: str) -> None:
    """Let paths from other processes name classes of the top-level package ``name`` too.

    Only ``aiway`` is trusted by default; a test suite or a benchmark whose
    behaviours live elsewhere trusts its own package (before the Thespian
    system forks its processes, so they inherit it).
    """
    if not name.isidentifier():
        raise ValueError(f"{name!r} is not a top-level package name")
    _TRUSTED_PACKAGES.add(name)


def _trusted_module(module_name: str) -> bool:
    parts = module_name.split(".")
    return parts[0] in _TRUSTED_PACKAGES and all(
        part.isidentifier() and not part.startswith("_") for part in parts
    )


def resolve_class(path: str, base: type | None = None) -> type:
    """The class a path from another process names: refused unless it is safe to touch.

    The path must be ``module:Qualname`` with the module in a trusted package
    (``aiway``; see ``trust_package``: nothing else is imported), every step a
    public name, and it must reach a class defined at exactly that path (never
    through a module attribute into another module, never an alias), a
    subclass of ``base`` when given. Nothing is called. Raises ``SpecError``.
    """
    found = _CLASSES.get(path)
    if found is None:
        found = _find_class(path)
        _CLASSES[path] = found
    if base is not None and not issubclass(found, base):
        raise SpecError(f"{path!r} is not a {base.__name__}")
    return found


def _find_class(path: str) -> type:
    module_name, _, qualname = path.partition(":")
    parts = qualname.split(".")
    if not module_name or not all(p.isidentifier() and not p.startswith("_") for p in parts):
        raise SpecError(f"{path!r} is not a 'module:Class' path of public names")
    if not _trusted_module(module_name):
        raise SpecError(f"{path!r} names a module outside the trusted packages")
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"cannot import {path!r}: {exc}") from None
    for part in parts:
        obj = inspect.getattr_static(obj, part, None)
        if obj is None or inspect.ismodule(obj):
            raise SpecError(f"{path!r} is not a class defined in {module_name}")
    if not isinstance(obj, type) or obj.__module__ != module_name or obj.__qualname__ != qualname:
        raise SpecError(f"{path!r} is not a class defined in {module_name}")
    return obj


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
    def of(cls, factory: Callable[_P, Behaviour], /, **kwargs: object) -> BehaviourSpec:
        """A spec of ``factory(**kwargs)``; raises ``SpecError`` for a closure or a bad keyword."""
        path = import_path(factory)
        parameters = inspect.signature(factory).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        unknown = [name for name in kwargs if name not in parameters and not takes_any]
        if unknown:
            raise SpecError(f"{path} takes no argument named {', '.join(sorted(unknown))}")
        return cls(path, kwargs)

    @property
    def factory(self) -> object:
        """The class or function the spec names (callable: ``resolve`` checks)."""
        return resolve(self.target)

    @property
    def edge(self) -> bool:
        """True when the spec builds an edge actor (which runs on the asyncio host only)."""
        return bool(getattr(self.factory, "edge", False))

    def hints(self) -> dict[str, TypeHint]:
        """The type hint of each keyword argument (``object`` where there is none)."""
        return argument_hints(self.factory, self.kwargs)

    def __call__(self) -> Behaviour:
        factory = self.factory
        if isinstance(factory, type) and not issubclass(factory, Behaviour):
            raise SpecError(f"{self.target} is a class but not a Behaviour: not built")
        if not callable(factory):
            raise SpecError(f"{self.target} is not callable: not built")
        behaviour = factory(**self.kwargs)
        if not isinstance(behaviour, Behaviour):
            raise SpecError(f"{self.target} built {type(behaviour).__name__}, not a Behaviour")
        return behaviour

    def __repr__(self) -> str:
        return f"BehaviourSpec({self.target!r}, {sorted(self.kwargs)})"


def argument_hints(factory: object, kwargs: Mapping[str, object]) -> dict[str, TypeHint]:
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
