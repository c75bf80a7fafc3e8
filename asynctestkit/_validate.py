"""One misuse rule for every public entry point, and the checks that apply it.

The rule (docs/api.md, "Valid values", lists every parameter it covers):

- a value of the wrong **type** raises ``TypeError`` (``bool`` is not a number, although it is an ``int``);
- a value of the right type that is **not allowed** (negative, NaN, infinite where a finite value is needed,
  an unknown leak kind or preset, a bad regular expression) raises ``ValueError``;
- the message names the parameter, shows what was given and says what is allowed, and any example it
  suggests is valid Python.

Every check runs where the value is given: a constructor argument in the constructor, a setter in the setter,
a class attribute when the class is defined (``__init_subclass__``), an environment variable when it is read.
"""

from __future__ import annotations

import math
import re

__all__ = ["boolean", "duration", "given", "origin_depth", "pattern", "time_point"]

def given(value: object) -> str:
    """``str: 'x'``: the type and repr of a rejected value, for the "got ..." part of a message."""
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__}: {text}"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def duration(where: str, value: object, *, zero: bool = True, infinite: bool = False) -> float:
    """A number of seconds: int or float (not bool), not NaN, >= 0 (> 0 without *zero*), finite unless *infinite*."""
    if not _is_number(value):
        raise TypeError(f"{where} must be {_seconds(zero, infinite)}, got {given(value)}")
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int beyond the float range (10**400)
        raise ValueError(f"{where} must be {_seconds(zero, infinite)}, got an int too large for a float "
                         f"({len(str(value))} digits)") from None
    if math.isnan(seconds) or seconds < 0 or (seconds == 0 and not zero) or (math.isinf(seconds) and not infinite):
        raise ValueError(f"{where} must be {_seconds(zero, infinite)}, got {value!r}")
    return seconds


def _seconds(zero: bool, infinite: bool) -> str:
    """What :func:`duration` allows, in words (built only for a message: checks run on every loop built)."""
    return f"a {'' if infinite else 'finite '}number of seconds {'>= 0' if zero else '> 0'}"


def time_point(where: str, value: object) -> float:
    """A finite loop time (int or float, not bool, not NaN or infinite; may be negative)."""
    if not _is_number(value):
        raise TypeError(f"{where} must be a finite number of seconds (a loop time), got {given(value)}")
    try:
        when = float(value)  # type: ignore[arg-type]
    except OverflowError:
        raise ValueError(f"{where} must be a finite number of seconds (a loop time), got an int too large for a "
                         f"float ({len(str(value))} digits)") from None
    if not math.isfinite(when):
        raise ValueError(f"{where} must be a finite number of seconds (a loop time), got {value!r}")
    return when


def boolean(where: str, value: object, *, none: bool = False) -> bool | None:
    """True or False (or None when *none*): no truthy stand-ins such as 0, 1 or "yes"."""
    if value is None and none:
        return None
    if not isinstance(value, bool):
        raise TypeError(f"{where} must be True{', False or None' if none else ' or False'}, got {given(value)}")
    return value


def origin_depth(where: str, value: object) -> int:
    """Frames of coroutine origin tracking: True (1), False (0) or an int >= 0."""
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int):
        raise TypeError(f"{where} must be True, False or a number of frames (int >= 0), got {given(value)}")
    if value < 0:
        raise ValueError(f"{where} must be True, False or a number of frames (int >= 0), got {value!r}")
    return value


def pattern(where: str, value: object) -> re.Pattern[str]:
    """A regular expression given as a string (or already compiled)."""
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise TypeError(f"{where} must be a regular expression (str), got {given(value)}")
    try:
        return re.compile(value)
    except re.error as error:
        raise ValueError(f"{where} must be a regular expression, got {value!r}: {error}") from None


def optional_callable(where: str, value: object) -> None:
    """A function or None."""
    if value is not None and not callable(value):
        raise TypeError(f"{where} must be callable or None, got {given(value)}")
