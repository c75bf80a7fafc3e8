"""ExceptionMatch / GroupMatch: describing expected exception groups and explaining mismatches."""

from __future__ import annotations

import builtins
import re
import sys
import unittest

from asynctestkit import ExceptionMatch, GroupMatch
from asynctestkit._groupmatch import as_group_matcher, as_matcher, render

PY311 = sys.version_info >= (3, 11)


class SpecConstructionTests(unittest.TestCase):
    """Specs can be built on every version (so test modules import on 3.10), and misuse is explained."""

    def test_shorthands(self) -> None:
        self.assertEqual(repr(as_matcher(ValueError)), "ValueError")
        self.assertEqual(repr(as_matcher([ValueError, [KeyError]])), "GroupMatch(ValueError, GroupMatch(KeyError))")
        self.assertEqual(repr(as_group_matcher(ValueError)), "GroupMatch(ValueError)")
        self.assertEqual(repr(ExceptionMatch(OSError, match="refused", errno=111)),
                         "ExceptionMatch(OSError, match='refused', errno=111)")
        self.assertEqual(repr(GroupMatch(ValueError, match="x", exact=False)),
                         "GroupMatch(ValueError, match='x', exact=False)")

    def test_misuse(self) -> None:
        with self.assertRaisesRegex(TypeError, r"is a tuple \(.*\): use a list for a nested group"):
            as_matcher((ValueError, KeyError))
        with self.assertRaisesRegex(TypeError, r"GroupMatch\(\) item 1 must be an exception class"):
            GroupMatch(ValueError, "KeyError")  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"ExceptionMatch\(\) argument 'exc_type' must be an exception class "
                                               r"or a tuple of them, got <class 'int'>"):
            ExceptionMatch(int)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, "must be a regular expression"):
            ExceptionMatch(ValueError, match=3)  # type: ignore[arg-type]
        with self.assertRaisesRegex(ValueError, "needs at least one expected exception"):
            GroupMatch()
        GroupMatch(exact=False)  # any group


@unittest.skipUnless(PY311, "exception groups are 3.11+")
class MatchingTests(unittest.TestCase):
    def setUp(self) -> None:
        self.EG = builtins.ExceptionGroup  # type: ignore[attr-defined]
        self.BEG = builtins.BaseExceptionGroup  # type: ignore[attr-defined]

    def test_order_does_not_matter_and_nesting_does(self) -> None:
        eg = self.EG("outer", [KeyError("k"), self.EG("inner", [TypeError("t")]), ValueError("v")])
        self.assertIsNone(as_group_matcher([ValueError, [TypeError], KeyError]).explain(eg))
        self.assertIsNotNone(as_group_matcher([ValueError, TypeError, KeyError]).explain(eg))

    def test_matching_needs_a_perfect_pairing_not_a_greedy_one(self) -> None:
        eg = self.EG("g", [ValueError("specific"), ValueError("other")])
        spec = GroupMatch(ValueError, ExceptionMatch(ValueError, match="spec"))
        self.assertIsNone(spec.explain(eg))

    def test_exact_false_allows_extras(self) -> None:
        eg = self.EG("g", [ValueError("v"), OSError(5, "io")])
        self.assertIsNone(GroupMatch(ValueError, exact=False).explain(eg))
        self.assertEqual(GroupMatch(ValueError).explain(eg), "unexpected OSError(5, 'io')")

    def test_message_attribute_and_type_reasons(self) -> None:
        eg = self.EG("unhandled errors", [OSError(5, "io")])
        self.assertEqual(GroupMatch(OSError, match="^fatal").explain(eg),
                         "group message 'unhandled errors' does not match '^fatal'")
        self.assertEqual(GroupMatch(ExceptionMatch(OSError, errno=7)).explain(eg),
                         "missing ExceptionMatch(OSError, errno=7) (closest: OSError(5, 'io'), but attribute errno "
                         "is 5, expected 7); unexpected OSError(5, 'io')")
        self.assertEqual(GroupMatch(ExceptionMatch(OSError, code=7)).explain(eg),
                         "missing ExceptionMatch(OSError, code=7) (closest: OSError(5, 'io'), but has no attribute "
                         "'code' (expected 7)); unexpected OSError(5, 'io')")
        self.assertEqual(GroupMatch(ExceptionMatch(OSError, match=re.compile("disk"))).explain(eg),
                         "missing ExceptionMatch(OSError, match='disk') (closest: OSError(5, 'io'), but message "
                         "'[Errno 5] io' does not match 'disk'); unexpected OSError(5, 'io')")
        self.assertEqual(as_group_matcher(ValueError).explain(ValueError("x")),
                         "is ValueError('x'), not an exception group; to accept it unwrapped, write "
                         "GroupMatch(ValueError, allow_unwrapped=True)")
        self.assertEqual(GroupMatch(ValueError, group_type=self.EG).explain(self.BEG("b", [KeyboardInterrupt()])),
                         "is BaseExceptionGroup, expected ExceptionGroup")

    def test_nested_mismatch_is_explained_through_the_closest_group(self) -> None:
        eg = self.EG("outer", [ValueError(1), self.EG("inner", [TypeError(2), OSError(3)])])
        reason = as_group_matcher([ValueError, [TypeError]]).explain(eg)
        self.assertEqual(reason, "missing GroupMatch(TypeError) (closest: ExceptionGroup('inner', 2 exc.), but "
                                 "unexpected OSError(3)); unexpected ExceptionGroup('inner', 2 exc.)")

    def test_render_tree_names_where_each_was_raised(self) -> None:
        try:
            raise ValueError("v")
        except ValueError as exc:
            first = exc
        lines = render(self.EG("outer", [first, self.EG("inner", [KeyError("k")])]))
        self.assertEqual(lines[0], "  ExceptionGroup('outer') with 2 exceptions:")
        self.assertRegex(lines[1], r"^    ValueError\('v'\)  raised at tests/test_groupmatch.py:\d+ in "
                                   r"test_render_tree_names_where_each_was_raised$")
        self.assertEqual(lines[2:], ["    ExceptionGroup('inner') with 1 exception:", "      KeyError('k')"])


class AssertExceptionGroupMatchesTests(unittest.IsolatedAsyncioTestCase):
    """The sync assertion works on a plain test case too (through the mixin)."""

    @unittest.skipUnless(PY311, "exception groups are 3.11+")
    def test_pass_and_fail(self) -> None:
        from asynctestkit import AsyncAssertionsMixin

        class Case(AsyncAssertionsMixin, unittest.TestCase):
            def runTest(self) -> None:
                pass

        case = Case()
        eg = builtins.ExceptionGroup("outer", [ValueError(1)])  # type: ignore[attr-defined]
        case.assertExceptionGroupMatches(eg, [ValueError])
        with self.assertRaises(AssertionError) as cm:
            case.assertExceptionGroupMatches(eg, [KeyError], msg="context")
        self.assertEqual(str(cm.exception),
                         "exception group does not match: missing KeyError; unexpected ValueError(1)\n"
                         "  expected GroupMatch(KeyError)\n"
                         "  got:\n"
                         "    ExceptionGroup('outer') with 1 exception:\n"
                         "      ValueError(1) : context")
        with self.assertRaisesRegex(TypeError, "argument 'exception' must be an exception, got str"):
            case.assertExceptionGroupMatches("eg", [KeyError])  # type: ignore[arg-type]


if __name__ == "__main__":
    unittest.main()
