"""Describing the exception group you expect, and explaining why an actual one does not match.

A *spec* says what one exception (or a whole group) must look like:

- an exception class: an instance of it (``ValueError``);
- ``ExceptionMatch(OSError, match="refused", errno=111, check=is_transient)``: the type, a regular
  expression searched in ``str(exc)`` and its ``__notes__`` (one per line, as pytest's ``RaisesExc`` does),
  attribute values, and any predicate;
- ``GroupMatch(ValueError, GroupMatch(KeyError), match="unhandled", exact=True)``: an exception group whose
  ``exceptions`` match the given specs one to one, in any order; nested groups are nested specs, or
  ``flatten_subgroups=True`` matches the leaves of every nested group as if they were one flat group;
  ``allow_unwrapped=True`` also accepts the single expected exception raised on its own, outside a group;
- a list is shorthand for a nested group: ``[ValueError, [KeyError]]`` is
  ``GroupMatch(ValueError, GroupMatch(KeyError))``.

``exact=True`` (the default) means "all of these and nothing else"; ``exact=False`` allows other exceptions
in that group besides the ones listed.  Matching pairs each expected spec with a distinct actual exception
(a maximum bipartite matching, so the order of either side never matters), and a mismatch is explained by
what is missing, what is unexpected and the closest candidate for each missing spec; when the group would
match with ``flatten_subgroups=True`` or ``allow_unwrapped=True``, the explanation spells that line.

Every matcher is usable on its own: ``matcher.matches(exc)`` returns a bool and leaves the reason of a
mismatch in ``matcher.fail_reason``.  Misuse follows the package rule: a wrong type is a TypeError, a bad
value (an invalid regular expression, contradictory options) a ValueError naming the parameter.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from typing import Any, Union

from .._diagnostics import format_site
from ._base import exc_repr, raised_at, short_repr

__all__ = ["ExceptionMatch", "GroupMatch"]

__unittest = True

Spec = Union[type[BaseException], "ExceptionMatch", "GroupMatch", list[Any]]
_MAX_LINES = 30


def base_exception_group() -> type[BaseException] | None:
    """``BaseExceptionGroup`` on 3.11+, None on 3.10 (which has no exception groups)."""
    found: type[BaseException] | None = getattr(builtins, "BaseExceptionGroup", None)
    return found


def is_group(exc: object) -> bool:
    group = base_exception_group()
    return group is not None and isinstance(exc, group)


def _type_name(types: type[BaseException] | tuple[type[BaseException], ...]) -> str:
    if isinstance(types, tuple):
        return "(" + ", ".join(t.__name__ for t in types) + ")"
    return types.__name__


def _compile(owner: str, pattern: object) -> re.Pattern[str] | None:
    """Check and compile a ``match=`` argument: None, a str or a compiled pattern."""
    if pattern is None or isinstance(pattern, re.Pattern):
        return pattern
    if not isinstance(pattern, str):
        raise TypeError(f"{owner}() argument 'match' must be a regular expression (a str or re.Pattern), got "
                        f"{type(pattern).__name__}: {short_repr(pattern)}")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{owner}() argument 'match' is not a valid regular expression: {pattern!r} ({exc}); "
                         f"to match the text literally, pass re.escape({pattern!r})") from None


def _check_callable(owner: str, check: object) -> Callable[[BaseException], object] | None:
    if check is not None and not callable(check):
        raise TypeError(f"{owner}() argument 'check' must be a callable taking the exception and returning "
                        f"true when it is the one expected, got {type(check).__name__}: {short_repr(check)}")
    return check


def _check_flag(owner: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}() argument {name!r} must be True or False, got {type(value).__name__}: "
                        f"{short_repr(value)}")
    return value


def _searched_text(exc: BaseException, text: str) -> str:
    """*text* (the message) followed by the exception's ``__notes__``, one per line."""
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, (list, tuple)) and notes:
        return "\n".join([text, *(str(note) for note in notes)])
    return text


def _no_match(what: str, text: str, pattern: re.Pattern[str]) -> str:
    """Why *pattern* did not match *text*, pointing at ``re.escape`` when the pattern is meant literally."""
    reason = f"{what} {text!r} does not match {pattern.pattern!r}"
    if pattern.pattern in text and re.escape(pattern.pattern) != pattern.pattern:
        reason += f" (it contains the text literally: did you mean re.escape({pattern.pattern!r})?)"
    return reason


def _callable_name(check: Callable[..., object]) -> str:
    name = getattr(check, "__qualname__", None) or getattr(check, "__name__", None) or type(check).__name__
    return str(name).rpartition("<locals>.")[2]


def _run_check(check: Callable[[BaseException], object], exc: BaseException) -> str | None:
    """None when ``check(exc)`` is true, else why not.  An exception raised by the check propagates."""
    if check(exc):
        return None
    return f"check {_callable_name(check)}() returned a false value for {exc_repr(exc)}"


class _Matcher:
    """What both matchers share: ``matches()`` with a readable ``fail_reason``."""

    #: Why the last :meth:`matches` call returned False (None after a match, or before any call).
    fail_reason: str | None = None

    def explain(self, exc: BaseException) -> str | None:
        raise NotImplementedError

    def matches(self, exc: BaseException) -> bool:
        """Return True when *exc* matches; otherwise False, with the reason left in ``fail_reason``."""
        if not isinstance(exc, BaseException):
            raise TypeError(f"{type(self).__name__}.matches() argument 'exc' must be an exception, got "
                            f"{type(exc).__name__}: {short_repr(exc)}")
        self.fail_reason = self.explain(exc)
        return self.fail_reason is None


class ExceptionMatch(_Matcher):
    """Expect one exception: an instance of *exc_type*, whose text matches *match*, with *attributes*.

    *match* is a regular expression searched (``re.search``) in ``str(exc)`` followed by the exception's
    ``__notes__``, one per line; *check* is a callable given the exception that must return true;
    *attributes* are compared with ``==`` (``ExceptionMatch(OSError, errno=111)``).
    """

    def __init__(self, exc_type: type[BaseException] | tuple[type[BaseException], ...],
                 match: str | re.Pattern[str] | None = None, *,
                 check: Callable[[BaseException], object] | None = None, **attributes: Any) -> None:
        types = exc_type if isinstance(exc_type, tuple) else (exc_type,)
        if not types:
            raise ValueError("ExceptionMatch() argument 'exc_type' is an empty tuple (): pass an exception class "
                             "or a tuple of them, e.g. (ValueError, KeyError)")
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
            raise TypeError(f"ExceptionMatch() argument 'exc_type' must be an exception class or a tuple of "
                            f"them, got {short_repr(exc_type)}")
        self.exc_type = exc_type
        self.match = _compile("ExceptionMatch", match)
        self.check = _check_callable("ExceptionMatch", check)
        self.attributes = attributes

    def explain(self, exc: BaseException) -> str | None:
        """None when *exc* matches, else why not."""
        if not isinstance(exc, self.exc_type):
            return f"is {type(exc).__name__}, expected {_type_name(self.exc_type)}"
        if self.match is not None:
            text = _searched_text(exc, str(exc))
            if not self.match.search(text):
                return _no_match("message and notes" if text != str(exc) else "message", text, self.match)
        for name, expected in self.attributes.items():
            if not hasattr(exc, name):
                return f"has no attribute {name!r} (expected {expected!r})"
            actual = getattr(exc, name)
            if actual != expected:
                return f"attribute {name} is {actual!r}, expected {expected!r}"
        if self.check is not None:
            return _run_check(self.check, exc)
        return None

    def _type_matches(self, exc: BaseException) -> bool:
        return isinstance(exc, self.exc_type)

    def __repr__(self) -> str:
        parts = [_type_name(self.exc_type)]
        if self.match is not None:
            parts.append(f"match={self.match.pattern!r}")
        if self.check is not None:
            parts.append(f"check={_callable_name(self.check)}")
        parts += [f"{k}={v!r}" for k, v in self.attributes.items()]
        return parts[0] if len(parts) == 1 else f"ExceptionMatch({', '.join(parts)})"


class GroupMatch(_Matcher):
    """Expect an exception group whose exceptions match *exceptions* one to one, in any order.

    *match* is a regular expression searched in the group's message followed by its ``__notes__``; *exact*
    False allows extra exceptions in the group; *group_type* narrows the group class (default: any
    ``BaseExceptionGroup``); *check* is a callable given the group that must return true;
    *flatten_subgroups* matches the leaves of nested groups as one flat group (no nested specs then);
    *allow_unwrapped* also accepts the one expected exception raised on its own, outside any group.
    """

    def __init__(self, *exceptions: Spec, match: str | re.Pattern[str] | None = None, exact: bool = True,
                 group_type: type[BaseException] | None = None,
                 check: Callable[[BaseException], object] | None = None, flatten_subgroups: bool = False,
                 allow_unwrapped: bool = False) -> None:
        self.exceptions = [as_matcher(spec, f"GroupMatch() item {i}") for i, spec in enumerate(exceptions)]
        self.exact = _check_flag("GroupMatch", "exact", exact)
        self.flatten_subgroups = _check_flag("GroupMatch", "flatten_subgroups", flatten_subgroups)
        self.allow_unwrapped = _check_flag("GroupMatch", "allow_unwrapped", allow_unwrapped)
        if not self.exceptions and exact:
            raise ValueError("GroupMatch() with exact=True needs at least one expected exception (a group is "
                             "never empty); pass exact=False to accept any group")
        nested = [spec for spec in self.exceptions if isinstance(spec, GroupMatch)]
        if flatten_subgroups and nested:
            raise ValueError(f"GroupMatch(flatten_subgroups=True) cannot contain a nested group spec "
                             f"({nested[0]!r}): flattening removes every nested group; list the exceptions "
                             f"inside it directly")
        if allow_unwrapped and (len(self.exceptions) != 1 or nested):
            raise ValueError(f"GroupMatch(allow_unwrapped=True) needs exactly one expected exception that is "
                             f"not a group, got {len(self.exceptions)} item(s)"
                             + (" including a nested group" if nested else ""))
        if group_type is not None and not (isinstance(group_type, type) and issubclass(group_type, BaseException)):
            raise TypeError(f"GroupMatch() argument 'group_type' must be an exception group class, got "
                            f"{type(group_type).__name__}: {short_repr(group_type)}")
        base_group = base_exception_group()
        if group_type is not None and base_group is not None and not issubclass(group_type, base_group):
            raise ValueError(f"GroupMatch() argument 'group_type' must be an exception group class (a subclass "
                             f"of BaseExceptionGroup, e.g. ExceptionGroup), got {group_type.__name__}, which no "
                             f"group is an instance of")
        self.match = _compile("GroupMatch", match)
        self.group_type = group_type
        self.check = _check_callable("GroupMatch", check)

    def _type_matches(self, exc: BaseException) -> bool:
        return is_group(exc) and (self.group_type is None or isinstance(exc, self.group_type))

    def _accepts(self, exc: BaseException) -> bool:
        """Whether *exc* is something this matcher judges (a group, or an unwrapped exception it allows)."""
        return is_group(exc) or (self.allow_unwrapped and self.exceptions[0]._type_matches(exc))

    def explain(self, exc: BaseException) -> str | None:
        """None when *exc* matches, else why not (naming missing and unexpected exceptions)."""
        if not is_group(exc):
            if self.allow_unwrapped:
                reason = self.exceptions[0].explain(exc)
                return None if reason is None else f"the unwrapped exception {reason}"
            hint = ""
            if len(self.exceptions) == 1 and self.exceptions[0].explain(exc) is None:
                hint = f"; to accept it unwrapped, write {self._with(allow_unwrapped=True)!r}"
            return f"is {exc_repr(exc)}, not an exception group{hint}"
        if self.group_type is not None and not isinstance(exc, self.group_type):
            return f"is {type(exc).__name__}, expected {self.group_type.__name__}"
        message: str = getattr(exc, "message", "")
        if self.match is not None:
            text = _searched_text(exc, message)
            if not self.match.search(text):
                return _no_match("group message and notes" if text != message else "group message", text,
                                 self.match)
        actual = _leaves(exc) if self.flatten_subgroups else list(getattr(exc, "exceptions", ()))
        reason = self._explain_members(actual)
        if reason is None and self.check is not None:
            reason = _run_check(self.check, exc)
        if reason is not None and not self.flatten_subgroups and not self.allow_unwrapped \
                and not any(isinstance(spec, GroupMatch) for spec in self.exceptions) \
                and any(is_group(a) for a in actual):
            flat = self._with(flatten_subgroups=True)
            if flat.explain(exc) is None:
                reason += (f"; the group holds nested exception groups whose exceptions do match: write "
                           f"{flat!r}")
        return reason

    def _explain_members(self, actual: list[BaseException]) -> str | None:
        pairs = _max_matching([[spec.explain(a) is None for a in actual] for spec in self.exceptions],
                              len(actual))
        used = {j for j in pairs if j is not None}
        problems: list[str] = []
        for spec, j in zip(self.exceptions, pairs, strict=True):
            if j is not None:
                continue
            problem = f"missing {spec!r}"
            candidates = [a for k, a in enumerate(actual) if k not in used and spec._type_matches(a)] or \
                [a for a in actual if spec._type_matches(a)]
            if candidates:
                problem += f" (closest: {_short(candidates[0])}, but {spec.explain(candidates[0])})"
            problems.append(problem)
        if self.exact:
            problems += [f"unexpected {_short(a)}" for k, a in enumerate(actual) if k not in used]
        return "; ".join(problems) if problems else None

    def _with(self, **options: Any) -> GroupMatch:
        """A copy with some options changed (for the suggestions in explanations)."""
        settings: dict[str, Any] = {"match": self.match, "exact": self.exact, "group_type": self.group_type,
                                    "check": self.check, "flatten_subgroups": self.flatten_subgroups,
                                    "allow_unwrapped": self.allow_unwrapped}
        settings.update(options)
        return GroupMatch(*self.exceptions, **settings)

    def _has_nested_groups(self) -> bool:
        """True when one of the expected items is itself a group spec."""
        return any(isinstance(spec, GroupMatch) for spec in self.exceptions)

    def __repr__(self) -> str:
        parts = [repr(spec) for spec in self.exceptions]
        if self.match is not None:
            parts.append(f"match={self.match.pattern!r}")
        if not self.exact:
            parts.append("exact=False")
        if self.group_type is not None:
            parts.append(f"group_type={self.group_type.__name__}")
        if self.check is not None:
            parts.append(f"check={_callable_name(self.check)}")
        if self.flatten_subgroups:
            parts.append("flatten_subgroups=True")
        if self.allow_unwrapped:
            parts.append("allow_unwrapped=True")
        return f"GroupMatch({', '.join(parts)})"


def _leaves(group: BaseException) -> list[BaseException]:
    """The exceptions of *group* with every nested group replaced by its own leaves, in order."""
    found: list[BaseException] = []
    for item in getattr(group, "exceptions", ()):
        if is_group(item):
            found += _leaves(item)
        else:
            found.append(item)
    return found


def as_matcher(spec: object, where: str = "expected") -> ExceptionMatch | GroupMatch:
    """Turn a spec (class, matcher, or list for a nested group) into a matcher; TypeError for anything else."""
    if isinstance(spec, (ExceptionMatch, GroupMatch)):
        return spec
    if isinstance(spec, list):
        return GroupMatch(*_items(spec, where))
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
        return GroupMatch(*_items(spec, where))
    return GroupMatch(as_matcher(spec, where))


def _items(specs: list[Any], where: str) -> list[ExceptionMatch | GroupMatch]:
    """The matchers of a list spec, a misuse named by its place (``...argument 'expected'[1]``)."""
    return [as_matcher(item, f"{where}[{i}]") for i, item in enumerate(specs)]


def render(exc: BaseException, indent: str = "  ") -> list[str]:
    """An exception (group) as a tree of lines, each exception with where it was raised; one screen at most."""
    lines: list[str] = []

    def walk(item: BaseException, depth: int) -> None:
        if len(lines) >= _MAX_LINES:
            return
        pad = indent + "  " * depth
        if is_group(item):
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
    if is_group(exc):
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
