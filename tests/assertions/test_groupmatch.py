"""ExceptionMatch / GroupMatch: describing expected exception groups and explaining mismatches."""

from __future__ import annotations

import builtins
import re
import sys
import unittest

from asynctestkit import ExceptionMatch, GroupMatch
from asynctestkit.assertions._groupmatch import as_group_matcher, as_matcher, render

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
        self.assertRegex(lines[1], r"^    ValueError\('v'\)  raised at tests/assertions/test_groupmatch.py:\d+ in "
                                   r"test_render_tree_names_where_each_was_raised$")
        self.assertEqual(lines[2:], ["    ExceptionGroup('inner') with 1 exception:", "      KeyError('k')"])


class OptionConstructionTests(unittest.TestCase):
    """The pytest-8.4-level options: their misuse follows the TypeError/ValueError rule, naming the parameter."""

    def test_bad_regular_expressions_are_value_errors_naming_the_parameter_and_pattern(self) -> None:
        with self.assertRaisesRegex(ValueError, r"^ExceptionMatch\(\) argument 'match' is not a valid regular "
                                                r"expression: 'users\(' \(missing \), unterminated subpattern"):
            ExceptionMatch(ValueError, match="users(")
        with self.assertRaises(ValueError) as cm:
            GroupMatch(ValueError, match="[a-")
        self.assertIn("GroupMatch() argument 'match' is not a valid regular expression: '[a-'", str(cm.exception))
        self.assertIn("pass re.escape('[a-')", str(cm.exception))  # the suggestion is valid Python
        self.assertIsNone(cm.exception.__cause__)

    def test_wrong_types_are_type_errors(self) -> None:
        with self.assertRaisesRegex(TypeError, r"ExceptionMatch\(\) argument 'check' must be a callable .*got "
                                               r"str: 'x'"):
            ExceptionMatch(ValueError, check="x")  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"GroupMatch\(\) argument 'flatten_subgroups' must be True or "
                                               r"False, got str: 'yes'"):
            GroupMatch(ValueError, flatten_subgroups="yes")  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"GroupMatch\(\) argument 'allow_unwrapped' must be True or False"):
            GroupMatch(ValueError, allow_unwrapped=1)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"GroupMatch\(\) argument 'exact' must be True or False"):
            GroupMatch(ValueError, exact=None)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"GroupMatch\(\) argument 'match' must be a regular expression "
                                               r"\(a str or re.Pattern\), got int: 3"):
            GroupMatch(ValueError, match=3)  # type: ignore[arg-type]
        with self.assertRaisesRegex(TypeError, r"ExceptionMatch.matches\(\) argument 'exc' must be an exception"):
            ExceptionMatch(ValueError).matches("boom")  # type: ignore[arg-type]

    @unittest.skipUnless(PY311, "exception groups are 3.11+")
    def test_group_type_that_is_not_a_group_class_is_a_value_error(self) -> None:
        with self.assertRaisesRegex(ValueError, r"GroupMatch\(\) argument 'group_type' must be an exception group "
                                                r"class \(a subclass of BaseExceptionGroup, e.g. ExceptionGroup\), "
                                                r"got ValueError"):
            GroupMatch(KeyError, group_type=ValueError)
        with self.assertRaisesRegex(TypeError, r"argument 'group_type' must be an exception group class, got str"):
            GroupMatch(KeyError, group_type="ExceptionGroup")  # type: ignore[arg-type]

    def test_contradictory_options_are_value_errors(self) -> None:
        with self.assertRaisesRegex(ValueError, r"GroupMatch\(flatten_subgroups=True\) cannot contain a nested "
                                                r"group spec \(GroupMatch\(KeyError\)\)"):
            GroupMatch(ValueError, [KeyError], flatten_subgroups=True)
        with self.assertRaisesRegex(ValueError, r"GroupMatch\(allow_unwrapped=True\) needs exactly one expected "
                                                r"exception that is not a group, got 2 item\(s\)"):
            GroupMatch(ValueError, KeyError, allow_unwrapped=True)
        with self.assertRaisesRegex(ValueError, "including a nested group"):
            GroupMatch([ValueError], allow_unwrapped=True)

    def test_repr_spells_every_option_as_python(self) -> None:
        def transient(exc: BaseException) -> bool:
            return True

        self.assertEqual(repr(GroupMatch(ExceptionMatch(OSError, check=transient), flatten_subgroups=True)),
                         "GroupMatch(ExceptionMatch(OSError, check=transient), flatten_subgroups=True)")
        self.assertEqual(repr(GroupMatch(ValueError, allow_unwrapped=True, check=transient)),
                         "GroupMatch(ValueError, check=transient, allow_unwrapped=True)")

    def test_exception_match_works_without_groups_on_every_version(self) -> None:
        matcher = ExceptionMatch(KeyError, match="user")
        self.assertTrue(matcher.matches(KeyError("user 3")))
        self.assertIsNone(matcher.fail_reason)
        self.assertFalse(matcher.matches(KeyError("order 3")))
        self.assertEqual(matcher.fail_reason, "message \"'order 3'\" does not match 'user'")


@unittest.skipUnless(PY311, "exception groups are 3.11+")
class OptionMatchingTests(unittest.TestCase):
    """match= searches the notes too, check=, flatten_subgroups, allow_unwrapped, matches()/fail_reason."""

    def setUp(self) -> None:
        self.EG = builtins.ExceptionGroup  # type: ignore[attr-defined]

    def noted(self, exc: BaseException, *notes: str) -> BaseException:
        for note in notes:
            exc.add_note(note)  # type: ignore[attr-defined]
        return exc

    def test_match_searches_the_notes_like_pytest(self) -> None:
        exc = self.noted(ValueError("bad row"), "while loading users", "row 12")
        self.assertTrue(ExceptionMatch(ValueError, match="users").matches(exc))
        self.assertTrue(ExceptionMatch(ValueError, match="^bad row\nwhile loading users\nrow 12$").matches(exc))
        matcher = ExceptionMatch(ValueError, match="orders")
        self.assertFalse(matcher.matches(exc))
        self.assertEqual(matcher.fail_reason, "message and notes 'bad row\\nwhile loading users\\nrow 12' does "
                                              "not match 'orders'")
        group = self.noted(self.EG("import failed", [ValueError(1)]), "batch 7")
        self.assertTrue(GroupMatch(ValueError, match="^import failed\nbatch 7$").matches(group))
        self.assertFalse(GroupMatch(ValueError, match="batch 8").matches(group))

    def test_a_pattern_meant_literally_points_at_re_escape(self) -> None:
        matcher = ExceptionMatch(ValueError, match="cost (USD)")
        self.assertFalse(matcher.matches(ValueError("bad cost (USD)")))
        self.assertEqual(matcher.fail_reason, "message 'bad cost (USD)' does not match 'cost (USD)' (it contains "
                                              "the text literally: did you mean re.escape('cost (USD)')?)")
        self.assertTrue(ExceptionMatch(ValueError, match=re.escape("cost (USD)")).matches(ValueError("cost (USD)")))

    def test_no_false_positive_a_match_absent_from_message_and_notes_fails(self) -> None:
        self.assertFalse(ExceptionMatch(ValueError, match="users").matches(ValueError("orders")))
        self.assertFalse(GroupMatch(ValueError, match="outer").matches(self.EG("inner", [ValueError()])))

    def test_check_callable_on_an_exception_and_on_a_group(self) -> None:
        def is_503(exc: BaseException) -> bool:
            return getattr(exc, "errno", None) == 503

        matcher = ExceptionMatch(OSError, check=is_503)
        self.assertTrue(matcher.matches(OSError(503, "busy")))
        self.assertFalse(matcher.matches(OSError(500, "error")))
        self.assertEqual(matcher.fail_reason,
                         "check is_503() returned a false value for OSError(500, 'error')")
        group = self.EG("x", [ValueError(1), ValueError(2)])
        self.assertTrue(GroupMatch(ValueError, ValueError, check=lambda g: len(g.exceptions) == 2).matches(group))
        only_one = GroupMatch(ValueError, ValueError, check=lambda g: len(g.exceptions) == 1)
        self.assertFalse(only_one.matches(group))
        self.assertRegex(only_one.fail_reason or "", r"^check .*<lambda>\(\) returned a false value for "
                                                     r"ExceptionGroup\('x'")

    def test_flatten_subgroups_matches_the_leaves(self) -> None:
        nested = self.EG("outer", [ValueError(1), self.EG("inner", [KeyError(2), self.EG("deep", [OSError()])])])
        self.assertTrue(GroupMatch(ValueError, KeyError, OSError, flatten_subgroups=True).matches(nested))
        flat = GroupMatch(ValueError, KeyError, flatten_subgroups=True)
        self.assertFalse(flat.matches(nested))
        self.assertEqual(flat.fail_reason, "unexpected OSError()")

    def test_mismatch_of_a_nested_group_suggests_flatten_subgroups(self) -> None:
        nested = self.EG("outer", [self.EG("unhandled errors in a TaskGroup", [ValueError(1), KeyError(2)])])
        matcher = GroupMatch(ValueError, ExceptionMatch(KeyError, match="2"))
        self.assertFalse(matcher.matches(nested))
        self.assertTrue((matcher.fail_reason or "").endswith(
            "; the group holds nested exception groups whose exceptions do match: write "
            "GroupMatch(ValueError, ExceptionMatch(KeyError, match='2'), flatten_subgroups=True)"),
            matcher.fail_reason)
        self.assertNotIn("flatten", GroupMatch(OSError).explain(nested) or "")  # no suggestion that would fail

    def test_allow_unwrapped_accepts_the_bare_exception(self) -> None:
        matcher = GroupMatch(ExceptionMatch(ValueError, match="v"), allow_unwrapped=True)
        self.assertTrue(matcher.matches(ValueError("v")))
        self.assertTrue(matcher.matches(self.EG("g", [ValueError("v")])))
        self.assertFalse(matcher.matches(ValueError("w")))
        self.assertEqual(matcher.fail_reason, "the unwrapped exception message 'w' does not match 'v'")
        self.assertFalse(GroupMatch(ValueError).matches(ValueError("v")))  # not without the option

    def test_matches_resets_the_reason_after_a_match(self) -> None:
        matcher = GroupMatch(ValueError)
        self.assertFalse(matcher.matches(self.EG("g", [KeyError()])))
        self.assertEqual(matcher.fail_reason, "missing ValueError; unexpected KeyError()")
        self.assertTrue(matcher.matches(self.EG("g", [ValueError()])))
        self.assertIsNone(matcher.fail_reason)


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
