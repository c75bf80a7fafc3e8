"""The public surface is exactly ``asynctestkit.__all__``, and it is documented, versioned and typed.

- ``__all__`` is sorted, has no duplicates, names only things that exist, and lists every public name the
  package exports (a new public import in ``__init__`` without an ``__all__`` entry fails here);
- every name has a docstring and a section in docs/api.md;
- the API reference and the migration guides mention only ``asynctestkit.X``, ``self.clock.X`` and
  ``self.assertX`` names that really exist;
- ``__version__`` is the literal in ``_version.py`` (what the wheel's metadata reads), is a valid version,
  and has an entry in docs/changelog.md;
- ``py.typed`` ships in the package and is declared as package data.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import types
import unittest

import asynctestkit
from asynctestkit import AsyncTestCase, VirtualClock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.dirname(os.path.abspath(asynctestkit.__file__))
DOCS = os.path.join(ROOT, "docs")
API_DOC = os.path.join(DOCS, "api.md")
CHANGELOG = os.path.join(DOCS, "changelog.md")
#: Pages whose code references are checked against the package (the API reference and migration guides).
CHECKED_PAGES = ("api.md", "migration.md")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def _after_side(text: str) -> str:
    """The parts of a page that describe asynctestkit, without what a migration guide shows as "before".

    Dropped: the first cell of every table row (the "before" column of the migration tables) and fenced code
    blocks whose first line is a ``# Before`` comment.
    """
    kept: list[str] = []
    block: list[str] | None = None  # lines of the fenced block being read, None outside blocks
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            if block is None:
                block = []
            else:
                if not (block and block[0].strip().lower().startswith("# before")):
                    kept.extend(block)
                block = None
        elif block is not None:
            block.append(line)
        elif stripped.startswith("|"):
            kept.append("|".join(stripped.split("|")[2:]))
        else:
            kept.append(line)
    return "\n".join(kept)


def _public_exports() -> set[str]:
    """Names bound in the package namespace that look public: not underscored, not a submodule."""
    return {name for name, value in vars(asynctestkit).items()
            if not name.startswith("_") and not isinstance(value, types.ModuleType)}


class AllTest(unittest.TestCase):
    def test_all_is_sorted_without_duplicates(self) -> None:
        names = list(asynctestkit.__all__)
        self.assertEqual(names, sorted(names), "keep asynctestkit.__all__ sorted")
        self.assertEqual(len(names), len(set(names)), "asynctestkit.__all__ has duplicates")

    def test_every_name_in_all_exists(self) -> None:
        missing = [name for name in asynctestkit.__all__ if not hasattr(asynctestkit, name)]
        self.assertEqual(missing, [], "names in __all__ that the package does not define")

    def test_every_public_export_is_in_all(self) -> None:
        unlisted = sorted(_public_exports() - set(asynctestkit.__all__))
        self.assertEqual(unlisted, [], "public names exported by asynctestkit/__init__.py but missing from "
                                       "__all__ (add them, or import them under a private name)")

    def test_version_is_exported(self) -> None:
        self.assertIn("__version__", asynctestkit.__all__)

    def test_star_import_gives_exactly_all(self) -> None:
        namespace: dict[str, object] = {}
        exec("from asynctestkit import *", namespace)
        namespace.pop("__builtins__", None)
        self.assertEqual(sorted(namespace), sorted(asynctestkit.__all__))

    def test_every_public_object_has_a_docstring(self) -> None:
        undocumented = []
        for name in asynctestkit.__all__:
            obj = getattr(asynctestkit, name)
            if isinstance(obj, str):  # __version__
                continue
            if not (getattr(obj, "__doc__", None) or "").strip():
                undocumented.append(name)
        self.assertEqual(undocumented, [], "public names without a docstring")


class ApiReferenceTest(unittest.TestCase):
    def test_every_name_in_all_has_a_section_in_api_md(self) -> None:
        text = _read(API_DOC)
        headings = re.findall(r"(?m)^#{2,4} `([A-Za-z_][A-Za-z0-9_]*)", text)
        missing = [name for name in asynctestkit.__all__ if name not in headings]
        self.assertEqual(missing, [], "docs/api.md needs a '### `Name`' section for each of these")

    def test_api_md_has_no_section_for_a_name_outside_all(self) -> None:
        headings = re.findall(r"(?m)^#{2,3} `([A-Za-z_][A-Za-z0-9_]*)", _read(API_DOC))
        stale = sorted(set(headings) - set(asynctestkit.__all__))
        self.assertEqual(stale, [], "docs/api.md documents top-level names that asynctestkit does not export")

    def test_documented_code_references_exist(self) -> None:
        problems = []
        for page in CHECKED_PAGES:
            path = os.path.join(DOCS, page)
            if not os.path.exists(path):
                problems.append(f"{page} is missing")
                continue
            text = _after_side(_read(path))
            for name in sorted(set(re.findall(r"\basynctestkit\.([A-Za-z_]\w*)", text))):
                if not hasattr(asynctestkit, name):
                    problems.append(f"{page}: asynctestkit.{name}")
            for name in sorted(set(re.findall(r"\bself\.clock\.([A-Za-z_]\w*)", text))):
                if not hasattr(VirtualClock, name):
                    problems.append(f"{page}: self.clock.{name}")
            for name in sorted(set(re.findall(r"\bself\.(assert\w+|addAsyncCleanup|enterAsyncContext)\b",
                                              text))):
                if name == "enterAsyncContext" and sys.version_info < (3, 11):
                    continue  # new in 3.11; the pages say so
                if not hasattr(AsyncTestCase, name):
                    problems.append(f"{page}: self.{name}")
        self.assertEqual(problems, [], "the docs mention names that do not exist")


class ApiReferenceCompletenessTest(unittest.TestCase):
    """docs/api.md names every parameter and member a user can reach, so it cannot silently fall behind."""

    #: Classes users do not construct, whose constructor parameters are therefore not documented.
    NOT_CONSTRUCTED = {"AsyncTestCase", "LeakCheckMixin", "AsyncAssertionsMixin", "VirtualClock",
                       "Block", "AssertionCall",  # these two: only returned by the assertions
                       "Trace", "TracedTask"}  # these two: only returned by the timeline

    def _sections(self) -> dict[str, str]:
        text = _read(API_DOC)
        parts = re.split(r"(?m)^#{2,3} `([A-Za-z_][A-Za-z0-9_]*)`.*$", text)
        return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}

    def test_every_parameter_is_named_in_its_section(self) -> None:
        sections = self._sections()
        missing = []
        for name in asynctestkit.__all__:
            obj = getattr(asynctestkit, name)
            if not callable(obj) or name in self.NOT_CONSTRUCTED or name not in sections:
                continue
            if isinstance(obj, type) and issubclass(obj, BaseException) and obj.__init__ is BaseException.__init__:
                continue
            try:
                parameters = inspect.signature(obj).parameters.values()
            except (TypeError, ValueError):
                continue
            for parameter in parameters:
                if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                    continue
                if not re.search(rf"\b{parameter.name}\b", sections[name]):
                    missing.append(f"{name}({parameter.name})")
        self.assertEqual(missing, [], "parameters not mentioned in their docs/api.md section")

    def test_every_public_member_is_documented(self) -> None:
        text = _read(API_DOC)
        own: list[type] = [VirtualClock, asynctestkit.VirtualClockLoop, asynctestkit.EventRecorder,
                           asynctestkit.LeakTracker, asynctestkit.LeakReport, asynctestkit.LeakCheckMixin,
                           # types the assertions return (and the matchers users build)
                           asynctestkit.AssertionCall, asynctestkit.Block, asynctestkit.FanOutOutcome,
                           asynctestkit.ChildOutcome, asynctestkit.RecordedEvent, asynctestkit.ExceptionMatch,
                           asynctestkit.GroupMatch,
                           # the task timeline's query objects
                           asynctestkit.Trace, asynctestkit.TraceEvent, asynctestkit.TracedTask]
        missing = []
        # AsyncTestCase: its settings, the mixins' assertions and helpers
        for cls in [*own, AsyncTestCase]:
            for base in cls.__mro__:
                if not base.__module__.startswith("asynctestkit"):
                    continue  # unittest's and asyncio's own members are documented upstream
                for member in vars(base):
                    if not member.startswith("_") and not re.search(rf"`[^`]*\b{member}\b", text):
                        missing.append(f"{cls.__name__}.{member} (from {base.__name__})")
        self.assertEqual(sorted(set(missing)), [], "public members not mentioned in docs/api.md")


class VersionTest(unittest.TestCase):
    def _version_literal(self) -> str:
        tree = ast.parse(_read(os.path.join(PACKAGE, "_version.py")))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__version__"
                                                    for t in node.targets):
                value = ast.literal_eval(node.value)
                self.assertIsInstance(value, str)
                return str(value)
        self.fail("asynctestkit/_version.py has no literal __version__ = '...' (setuptools reads it "
                  "statically)")

    def test_version_equals_the_literal_in_version_py(self) -> None:
        self.assertEqual(asynctestkit.__version__, self._version_literal())

    def test_version_is_a_valid_release_number(self) -> None:
        # PEP 440 public versions in the forms this project uses: 1.2.3, 1.2.3rc1 (a/b), .post1, .dev1
        self.assertRegex(asynctestkit.__version__, r"^\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")

    def test_version_has_a_changelog_entry(self) -> None:
        version = re.escape(asynctestkit.__version__)
        self.assertRegex(_read(CHANGELOG), rf"(?m)^## \[?{version}\]?( |$)",
                         "docs/changelog.md needs a '## <version>' section for the current version")

    def test_packaging_reads_the_version_from_version_py(self) -> None:
        setup_cfg = os.path.join(ROOT, "setup.cfg")
        pyproject = os.path.join(ROOT, "pyproject.toml")
        config = _read(setup_cfg) if os.path.exists(setup_cfg) else _read(pyproject)
        self.assertRegex(config, r"asynctestkit\._version\.__version__",
                         "the distribution version must come from asynctestkit/_version.py")


class TypedTest(unittest.TestCase):
    def test_py_typed_marker_is_in_the_package(self) -> None:
        self.assertTrue(os.path.isfile(os.path.join(PACKAGE, "py.typed")))

    def test_py_typed_is_declared_as_package_data(self) -> None:
        config = ""
        for name in ("setup.cfg", "pyproject.toml"):
            path = os.path.join(ROOT, name)
            if os.path.exists(path):
                config += _read(path)
        self.assertIn("py.typed", config, "py.typed must be listed as package data or the wheel lacks it")


if __name__ == "__main__":
    unittest.main()
