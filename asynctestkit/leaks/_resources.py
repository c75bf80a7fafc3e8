"""Third-party resources ("sessions") the leak checker knows, and the scan of a test's attributes.

A *resource type* says how to tell whether an object is still open, how to close it and how to name it in a
report.  Register one with :func:`register_resource_type`, giving the class or, for a library you do not
want to import, its qualified name (``"aiohttp.client.ClientSession"``): a name is matched against each
object's class and base classes, so nothing is ever imported.  Built in: aiohttp's ``ClientSession`` and
``BaseConnector``, active only once the application has imported aiohttp itself.

While a test runs, the constructor of each registered class that is already imported is wrapped so every
instance created during the test is recorded with its creation site; at teardown the open ones are leaks.
Objects found on the test instance (two levels deep: ``self.pool`` or ``self.clients[0]``) are checked
too, which covers types imported during the test.
"""

from __future__ import annotations

import functools
import sys
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .. import _compat

__all__ = ["ResourceType", "may_hold_something", "register_resource_type", "resource_type_of", "scan",
           "unregister_resource_type"]

Predicate = Callable[[Any], bool]


@dataclass(frozen=True)
class ResourceType:
    """How the checker handles one registered type (see :func:`register_resource_type`)."""

    key: type | str
    is_open: Predicate
    close: Callable[[Any], object] | None = None
    describe: Callable[[Any], str] | None = None
    parts: Callable[[Any], Iterable[object]] | None = None  # owned resources that close with this one

    @property
    def label(self) -> str:
        return self.key if isinstance(self.key, str) else f"{self.key.__module__}.{self.key.__qualname__}"


_TYPES: dict[type | str, ResourceType] = {}
_CACHE: dict[type, ResourceType | None] = {}
#: For patch_constructors' fast path, worked out again after each change of _TYPES: (whether a class is
#: registered, every module whose import could resolve a registered name).
_GATE: tuple[bool, frozenset[str]] | None = None
_NOTHING_TO_UNDO: list[Callable[[], None]] = []  # shared, never changed: returned when nothing was patched


def register_resource_type(cls_or_qualified_name: type | str, *, is_open: Predicate,
                           close: Callable[[Any], object] | None = None,
                           describe: Callable[[Any], str] | None = None) -> None:
    """Teach the leak checker a resource type: instances still open when a test ends are reported as leaks.

    - *cls_or_qualified_name*: the class, or its qualified name ``"package.module.Class"`` (matched against
      each object's class and its bases, so the library is never imported by asynctestkit);
    - *is_open(obj)*: True while *obj* still holds something (``lambda pool: not pool.closed``);
    - *close(obj)*: how asynctestkit closes a leaked one after reporting it; may return an awaitable, which
      is awaited (bounded).  Default: ``obj.close()`` if it exists;
    - *describe(obj)*: the name shown in the report (default: the class name).

    Registering the same class or name again replaces the earlier entry.  Example::

        register_resource_type("mydb.pool.Pool", is_open=lambda p: not p.closed)
    """
    if isinstance(cls_or_qualified_name, str):
        if cls_or_qualified_name.count(".") < 1 or not all(cls_or_qualified_name.split(".")):
            raise ValueError(f"register_resource_type({cls_or_qualified_name!r}): a name must be qualified, "
                             f"'package.module.Class', as in the class's __module__ and __qualname__")
    elif not isinstance(cls_or_qualified_name, type):
        raise TypeError(f"register_resource_type() takes a class or a qualified class name "
                        f"('package.module.Class'), got {cls_or_qualified_name!r}")
    if is_open is None:
        raise TypeError("register_resource_type() needs is_open=, a function telling whether an object is "
                        "still open, e.g. is_open=lambda pool: not pool.closed")
    for name, value in (("is_open", is_open), ("close", close), ("describe", describe)):
        if value is not None and not callable(value):
            raise TypeError(f"register_resource_type(..., {name}=...) must be callable, got {value!r}")
    _TYPES.pop(cls_or_qualified_name, None)  # re-registering moves it last
    _TYPES[cls_or_qualified_name] = ResourceType(cls_or_qualified_name, is_open, close, describe)
    _changed()


def unregister_resource_type(cls_or_qualified_name: type | str) -> bool:
    """Forget a type registered with :func:`register_resource_type`; returns False if it was not registered."""
    if not isinstance(cls_or_qualified_name, (type, str)):
        raise TypeError(f"unregister_resource_type() takes a class or a qualified class name "
                        f"('package.module.Class'), got {type(cls_or_qualified_name).__name__}: "
                        f"{cls_or_qualified_name!r}")
    found = _TYPES.pop(cls_or_qualified_name, None) is not None
    _changed()
    return found


def _register_builtin(name: str, **kwargs: Any) -> None:
    _TYPES[name] = ResourceType(name, **kwargs)
    _changed()


def _changed() -> None:
    global _GATE
    _CACHE.clear()
    _GATE = None


def resource_type_of(obj: object) -> ResourceType | None:
    """The registered type *obj* is an instance of (by class or qualified name of a base), or None."""
    cls = type(obj)
    try:
        return _CACHE[cls]
    except KeyError:
        pass
    except TypeError:  # an unhashable metaclass instance
        return None
    found: ResourceType | None = None
    if _TYPES:
        for base in cls.__mro__:
            found = _TYPES.get(base) or _TYPES.get(f"{base.__module__}.{base.__qualname__}")
            if found is not None:
                break
    _CACHE[cls] = found
    return found


_PROBES: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {}  # name -> (module, attribute path), longest first


def _probes(name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The ways *name* may split into an imported module and attributes inside it, longest module first."""
    probes = _PROBES.get(name)
    if probes is None:
        parts = name.split(".")
        probes = _PROBES[name] = tuple((".".join(parts[:cut]), tuple(parts[cut:]))
                                       for cut in range(len(parts) - 1, 0, -1))
    return probes


def _resolve(name: str) -> type | None:
    """The class a qualified name denotes if its module is already imported (never imports anything).

    Asked at every test's start for each type registered by name: the ways to split the name are worked out
    once, so a name whose modules are not imported costs a few dictionary lookups.
    """
    modules = sys.modules
    for module_name, attrs in _probes(name):
        module = modules.get(module_name)
        if module is None:
            continue
        obj: Any = module
        for attr in attrs:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj if isinstance(obj, type) else None
    return None


def patch_constructors(on_created: Callable[[object, ResourceType], None]) -> list[Callable[[], None]]:
    """Wrap ``__init__`` of every registered class importable now so each new instance is reported to
    *on_created*; returns the functions that undo each wrap (a class whose attributes cannot be set, such
    as a C extension type, is skipped: its instances are still found on the test instance).
    """
    global _GATE
    gate = _GATE
    if gate is None:
        names = [key for key in _TYPES if isinstance(key, str)]
        modules = frozenset(module for name in names for module, _attrs in _probes(name))
        gate = _GATE = (len(names) < len(_TYPES), modules)
    # Every type is registered by name: nothing to do until one of their modules is imported (one C-level
    # pass over those few names: a dict view's isdisjoint() iterates the smaller set).
    if not gate[0] and sys.modules.keys().isdisjoint(gate[1]):
        return _NOTHING_TO_UNDO
    undo: list[Callable[[], None]] = []
    for key, rtype in list(_TYPES.items()):
        cls = key if isinstance(key, type) else _resolve(key)
        if cls is None:
            continue
        restore = _wrap_init(cls, rtype, on_created)
        if restore is not None:
            undo.append(restore)
    return undo


def _wrap_init(cls: type, rtype: ResourceType,
               on_created: Callable[[object, ResourceType], None]) -> Callable[[], None] | None:
    own = cls.__dict__.get("__init__")
    current = next(vars(c)["__init__"] for c in cls.__mro__ if "__init__" in vars(c))

    @functools.wraps(current)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        current(self, *args, **kwargs)
        on_created(self, rtype)

    try:
        type.__setattr__(cls, "__init__", __init__)
    except (TypeError, AttributeError):
        return None

    def restore() -> None:
        if cls.__dict__.get("__init__") is __init__:
            if own is None:
                type.__delattr__(cls, "__init__")
            else:
                type.__setattr__(cls, "__init__", own)

    return restore


# -- aiohttp, by name: active only if the application imported aiohttp --------------------------------

def _aiohttp_session(session: Any) -> str:
    connector = getattr(session, "connector", None)
    return "aiohttp ClientSession" + (f" with {type(connector).__name__}" if connector is not None else "")


def _aiohttp_connector(connector: Any) -> str:
    # ``_conns`` (aiohttp's pool of idle keep-alive connections, a dict of lists) is aiohttp-private; read
    # defensively, only to say how many connections the leak holds.
    conns = getattr(connector, "_conns", None)
    try:
        pooled = sum(len(v) for v in conns.values()) if isinstance(conns, dict) else 0
    except TypeError:
        pooled = 0
    return (f"aiohttp {type(connector).__name__} with {pooled} pooled connection{'s' if pooled != 1 else ''}"
            if pooled else f"aiohttp {type(connector).__name__}")


def _aiohttp_owned_connector(session: Any) -> list[object]:
    connector = getattr(session, "connector", None)
    return [connector] if connector is not None and getattr(session, "connector_owner", False) else []


_register_builtin("aiohttp.client.ClientSession", is_open=lambda s: not s.closed, close=lambda s: s.close(),
                  describe=_aiohttp_session, parts=_aiohttp_owned_connector)
_register_builtin("aiohttp.connector.BaseConnector", is_open=lambda c: not c.closed, close=lambda c: c.close(),
                  describe=_aiohttp_connector)


# -- scanning the test instance -----------------------------------------------------------------------

_LEAF_TYPES = (str, bytes, bytearray, int, float, complex, bool, type(None), type, range, memoryview,
               types.FunctionType, types.MethodType, types.BuiltinFunctionType, types.ModuleType)
_SKIP_NAMES = _compat.UNITTEST_CASE_ATTRIBUTES  # unittest's own attributes of the test case
_PER_CONTAINER = 64


def _children(value: object) -> Iterator[tuple[str, object]]:
    """The items of a container or the attributes of a plain object, capped (one level)."""
    if isinstance(value, dict):
        for count, (key, item) in enumerate(value.items()):
            if count >= _PER_CONTAINER:
                return
            yield f"[{key!r}]", item
    elif isinstance(value, (list, tuple, set, frozenset, deque)):
        for index, item in enumerate(value):
            if index >= _PER_CONTAINER:
                return
            yield f"[{index}]", item
    else:
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict) and not isinstance(value, type) and type(value).__module__ != "builtins":
            for count, (name, item) in enumerate(list(attrs.items())):
                if count >= _PER_CONTAINER:
                    return
                yield f".{name}", item


#: Attribute names :func:`scan` skips: unittest's, and asynctestkit's own (``_atk_...``) as they are met.
_SKIPPED = set(_SKIP_NAMES)


def may_hold_something(root: object) -> bool:
    """False when :func:`scan` of *root* would yield nothing: no attribute but unittest's, asynctestkit's and
    plain values (a test that keeps nothing on ``self``, the common case, costs one C-level pass over its names)."""
    attrs = getattr(root, "__dict__", None)
    if not isinstance(attrs, dict):
        return False
    skipped = _SKIPPED
    if skipped.issuperset(attrs):  # every name is known to be skipped (the usual case): one C-level pass
        return False
    for attr, value in attrs.items():
        if attr in skipped:
            continue
        if attr.startswith("_atk_"):
            skipped.add(attr)
        elif not isinstance(value, _LEAF_TYPES):
            return True
    return False


def scan(root: object, name: str) -> Iterator[tuple[str, object]]:
    """Yield ``(path, value)`` for each attribute of *root* and each item or attribute of those (two levels).

    unittest's and asynctestkit's own attributes of a test case are skipped.  Cost: a few microseconds for
    a typical test instance; nothing is imported and no garbage collection is run.
    """
    attrs = getattr(root, "__dict__", None)
    if not isinstance(attrs, dict):
        return
    for attr, value in list(attrs.items()):
        if attr in _SKIP_NAMES or attr.startswith("_atk_") or isinstance(value, _LEAF_TYPES):
            continue
        path = f"{name}.{attr}"
        yield path, value
        for sub, item in _children(value):
            if not isinstance(item, _LEAF_TYPES):
                yield path + sub, item
