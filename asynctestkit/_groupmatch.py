"""Describing the exception group you expect, and explaining why an actual one does not match.

A *spec* says what one exception (or a whole group) must look like:

- an exception class: an instance of it (``ValueError``);
- ``ExceptionMatch(OSError, match="refused", errno=111)``: the type, a regular expression searched in
  ``str(exc)``, and attribute values;
- ``GroupMatch(ValueError, GroupMatch(KeyError), match="unhandled", exact=True)``: an exception group whose
  ``exceptions`` match the given specs one to one, in any order; nested groups are nested specs;
- a list is shorthand for a nested group: ``[ValueError, [KeyError]]`` is
  ``GroupMatch(ValueError, GroupMatch(KeyError))``.

``exact=True`` (the default) means "all of these and nothing else"; ``exact=False`` allows other exceptions
in that group besides the ones listed.  Matching pairs each expected spec with a distinct actual exception
(a maximum bipartite matching, so the order of either side never matters), and a mismatch is explained by
what is missing, what is unexpected and the closest candidate for each missing spec.
"""

from __future__ import annotations

import builtins
import re
from typing import Any, Union

from ._assert_base import exc_repr, raised_at
from .diagnostics import format_site

__all__ = ["ExceptionMatch", "GroupMatch"]

__unittest = True

Spec = Union[type[BaseException], "ExceptionMatch", "GroupMatch", list[Any]]
_MAX_LINES = 30


def base_exception_group() -> type[BaseException] | None:
    """``BaseExceptionGroup`` on 3.11+, None on 3.10 (which has no exception groups)."""
    found: type[BaseException] | None = getattr(builtins, "BaseExceptionGroup", None)
    return found


def _is_group(exc: object) -> bool:
    group = base_exception_group()
    return group is not None and isinstance(exc, group)


def _type_name(types: type[BaseException] | tuple[type[BaseException], ...]) -> str:
    if isinstance(types, tuple):
        return "(" + ", ".join(t.__name__ for t in types) + ")"
    return types.__name__


class ExceptionMatch:
    """Expect one exception: an instance of *exc_type*, whose ``str()`` contains *match*, with *attributes*."""

    def __init__(self, exc_type: type[BaseException] | tuple[type[BaseException], ...],
                 match: str | re.Pattern[str] | None = None, **attributes: Any) -> None:
        types = exc_type if isinstance(exc_type, tuple) else (exc_type,)
        if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
            raise TypeError(f"ExceptionMatch() needs an exception class (or a tuple of them), got "
                            f"{exc_type!r}")
        if match is not None and not isinstance(match, (str, re.Pattern)):
            raise TypeError(f"ExceptionMatch(match=...) must be a regular expression (str or re.Pattern), "
                            f"got {match!r}")
        self.exc_type = exc_type
        self.match = re.compile(match) if isinstance(match, str) else match
        self.attributes = attributes

    def explain(self, exc: BaseException) -> str | None:
        """None when *exc* matches, else why not."""
        if not isinstance(exc, self.exc_type):
            return f"is {type(exc).__name__}, expected {_type_name(self.exc_type)}"
        if self.match is not None and not self.match.search(str(exc)):
            return f"message {str(exc)!r} does not match {self.match.pattern!r}"
        for name, expected in self.attributes.items():
            if not hasattr(exc, name):
                return f"has no attribute {name!r} (expected {expected!r})"
            actual = getattr(exc, name)
            if actual != expected:
                return f"attribute {name} is {actual!r}, expected {expected!r}"
        return None

    def type_matches(self, exc: BaseException) -> bool:
        return isinstance(exc, self.exc_type)

    def __repr__(self) -> str:
        parts = [_type_name(self.exc_type)]
        if self.match is not None:
            parts.append(f"match={self.match.pattern!r}")
        parts += [f"{k}={v!r}" for k, v in self.attributes.items()]
        return parts[0] if len(parts) == 1 else f"ExceptionMatch({', '.join(parts)})"


class GroupMatch:
    """Expect an exception group whose exceptions match *exceptions* one to one, in any order.

    *match* is a regular expression searched in the group's message; *exact* False allows extra exceptions
    in the group; *group_type* narrows the group class (default: any ``BaseExceptionGroup``).
    """

    def __init__(self, *exceptions: Spec, match: str | re.Pattern[str] | None = None, exact: bool = True,
                 group_type: type[BaseException] | None = None) -> None:
        self.exceptions = [as_matcher(spec, f"GroupMatch() item {i}") for i, spec in enumerate(exceptions)]
        if not self.exceptions and exact:
            raise ValueError("GroupMatch() with exact=True needs at least one expected exception (a group is "
                             "never empty); pass exact=False to accept any group")
        if match is not None and not isinstance(match, (str, re.Pattern)):
            raise TypeError(f"GroupMatch(match=...) must be a regular expression (str or re.Pattern), got "
                            f"{match!r}")
        if group_type is not None and not (isinstance(group_type, type) and issubclass(group_type, BaseException)):
            raise TypeError(f"GroupMatch(group_type=...) must be an exception group class, got {group_type!r}")
        self.match = re.compile(match) if isinstance(match, str) else match
        self.exact = exact
        self.group_type = group_type

    def type_matches(self, exc: BaseException) -> bool:
        return _is_group(exc) and (self.group_type is None or isinstance(exc, self.group_type))

    def explain(self, exc: BaseException) -> str | None:
        """None when *exc* matches, else why not (naming missing and unexpected exceptions)."""
        if not _is_group(exc):
            return f"is {exc_repr(exc)}, not an exception group"
        if self.group_type is not None and not isinstance(exc, self.group_type):
            return f"is {type(exc).__name__}, expected {self.group_type.__name__}"
        message: str = getattr(exc, "message", "")
        if self.match is not None and not self.match.search(message):
            return f"group message {message!r} does not match {self.match.pattern!r}"
        actual: list[BaseException] = list(getattr(exc, "exceptions", ()))
        pairs = _max_matching([[spec.explain(a) is None for a in actual] for spec in self.exceptions],
                              len(actual))
        used = {j for j in pairs if j is not None}
        problems: list[str] = []
        for spec, j in zip(self.exceptions, pairs, strict=True):
            if j is not None:
                continue
            problem = f"missing {spec!r}"
            candidates = [a for k, a in enumerate(actual) if k not in used and spec.type_matches(a)] or \
                [a for a in actual if spec.type_matches(a)]
            if candidates:
                problem += f" (closest: {_short(candidates[0])}, but {spec.explain(candidates[0])})"
            problems.append(problem)
        if self.exact:
            problems += [f"unexpected {_short(a)}" for k, a in enumerate(actual) if k not in used]
        return "; ".join(problems) if problems else None

    def __repr__(self) -> str:
        parts = [repr(spec) for spec in self.exceptions]
        if self.match is not None:
            parts.append(f"match={self.match.pattern!r}")
        if not self.exact:
            parts.append("exact=False")
        if self.group_type is not None:
            parts.append(f"group_type={self.group_type.__name__}")
        return f"GroupMatch({', '.join(parts)})"


def as_matcher(spec: object, where: str = "expected") -> ExceptionMatch | GroupMatch:
    """Turn a spec (class, matcher, or list for a nested group) into a matcher; TypeError for anything else."""
    if isinstance(spec, (ExceptionMatch, GroupMatch)):
        return spec
    if isinstance(spec, list):
        return GroupMatch(*spec)
    if isinstance(spec, type) and issubclass(spec, BaseException):
        return ExceptionMatch(spec)
    if isinstance(spec, tuple):
        raise TypeError(f"{where} is a tuple {spec!r}: use a list for a nested group ([A, B]) or "
                        f"ExceptionMatch((A, B)) for an exception of either type")
    raise TypeError(f"{where} must be an exception class, ExceptionMatch, GroupMatch or a list (a nested "
                    f"group), got {type(spec).__name__}: {spec!r}")


def as_group_matcher(spec: object, where: str = "expected") -> GroupMatch:
    """The matcher for a whole group: a GroupMatch as is, a list as its contents, anything else as the only item."""
    if isinstance(spec, GroupMatch):
        return spec
    if isinstance(spec, list):
        return GroupMatch(*spec)
    return GroupMatch(as_matcher(spec, where))


def render(exc: BaseException, indent: str = "  ") -> list[str]:
    """An exception (group) as a tree of lines, each exception with where it was raised; one screen at most."""
    lines: list[str] = []

    def walk(item: BaseException, depth: int) -> None:
        if len(lines) >= _MAX_LINES:
            return
        pad = indent + "  " * depth
        if _is_group(item):
            children: list[BaseException] = list(getattr(item, "exceptions", ()))
            lines.append(f"{pad}{type(item).__name__}({getattr(item, 'message', '')!r}) with {len(children)} "
                         f"exception{'s' if len(children) != 1 else ''}:")
            for child in children:
                walk(child, depth + 1)
        else:
            site = raised_at(item)
            lines.append(f"{pad}{exc_repr(item)}" + (f"  raised at {format_site(site)}" if site else ""))

    walk(exc, 0)
    if len(lines) >= _MAX_LINES:
        lines.append(f"{indent}...")
    return lines


def _short(exc: BaseException) -> str:
    if _is_group(exc):
        return f"{type(exc).__name__}({getattr(exc, 'message', '')!r}, {len(getattr(exc, 'exceptions', ()))} exc.)"
    return exc_repr(exc)


def _max_matching(ok: list[list[bool]], n_actual: int) -> list[int | None]:
    """For each expected index, the actual index paired with it in a maximum matching (Kuhn's algorithm)."""
    owner: list[int | None] = [None] * n_actual

    def assign(i: int, seen: set[int]) -> bool:
        for j in range(n_actual):
            if ok[i][j] and j not in seen:
                seen.add(j)
                current = owner[j]
                if current is None or assign(current, seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(ok)):
        assign(i, set())
    pairs: list[int | None] = [None] * len(ok)
    for j, spec_index in enumerate(owner):
        if spec_index is not None:
            pairs[spec_index] = j
    return pairs
