"""The package's boundaries, checked on its source: what may read CPython's private names, what may know unittest.

The rules (docs/architecture.md explains why):

1. **Private stdlib names only in ``asynctestkit/_compat.py``** (and ``_runner310.py``, the copy of 3.10's
   private test runner that ``_compat`` installs, kept in a file of its own for the sake of tracebacks).  A *private stdlib name* is a name that starts
   with one underscore (not a dunder) and that the standard library's ``asyncio``, ``unittest``, ``warnings``
   or ``concurrent`` packages define: a module-level name, a class, a function or method, or an attribute
   assigned on ``self`` (read from this interpreter's own sources, so the list follows the version).  Outside
   ``_compat.py`` no module may:

   - read ``module._name`` where *module* is one of those packages (or a submodule) imported under any alias;
   - import such a name (``from asyncio.events import _get_running_loop``) or a private submodule;
   - read ``obj._name``, or spell ``"_name"`` in a string (``getattr(obj, "_name")``, a list of names), for
     such a name that asynctestkit does not itself define anywhere (a def, a class, an assignment, an
     argument, ``__slots__`` or ``setattr``): ``self._loop`` is ours; ``loop._ready``, ``test._outcome`` and
     ``task._state`` are not;
   - compare against ``sys.version_info`` or ``sys.hexversion``.

   A module may *override* unittest's private hooks (``def _callSetUp``): that is the unittest glue's job,
   allowed in the glue modules only (``case.py``, ``leaks/_unittest.py``) and in ``_compat.py``.
2. **The clock and the leak engine do not know unittest.**  No module of ``clock/`` imports ``unittest``; in
   ``leaks/`` only ``leaks/_unittest.py`` does (any ``import``, at any depth of the module).
3. **Every subpackage ships.**  ``setup.cfg`` finds the packages (``asynctestkit`` and ``asynctestkit.*``), so a
   wheel holds every subpackage a listing of the source shows.
4. **Our own frames are the whole package.**  The directory reports treat as asynctestkit's own
   (``_diagnostics.PACKAGE_DIR``) is the package root, so no report starts blaming a file of a subpackage.
"""

from __future__ import annotations

import ast
import configparser
import fnmatch
import importlib.util
import os
import sys
import unittest
from collections.abc import Iterator
from functools import cache

import asynctestkit
from asynctestkit import _diagnostics

PACKAGE = os.path.dirname(os.path.abspath(asynctestkit.__file__))
STDLIB_PACKAGES = ("asyncio", "unittest", "warnings", "concurrent")
COMPAT = "_compat.py"
COMPAT_LAYER = {COMPAT, "_runner310.py"}
UNITTEST_GLUE = {"case.py", os.path.join("leaks", "_unittest.py")}


def _package_files() -> Iterator[tuple[str, ast.Module]]:
    """``(path relative to the package, parsed module)`` for every module of asynctestkit."""
    for folder, _dirs, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    yield os.path.relpath(path, PACKAGE), ast.parse(fh.read(), path)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined_names(tree: ast.AST) -> set[str]:
    """Private names *tree* defines: defs, classes, assigned names and attributes, slots, keyword names."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__"
                                                  for t in node.targets):
            names.update(c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant)
                         and isinstance(c.value, str))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr" \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            names.add(str(node.args[1].value))
    return {name for name in names if _is_private(name)}


@cache
def _stdlib_private_names() -> frozenset[str]:
    """Every private name the stdlib packages in STDLIB_PACKAGES define (this interpreter's sources)."""
    names: set[str] = set()
    for package in STDLIB_PACKAGES:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin is not None
        root = os.path.dirname(spec.origin) if spec.submodule_search_locations else spec.origin
        paths = [root] if root.endswith(".py") else [
            os.path.join(folder, f) for folder, _dirs, files in os.walk(root)
            if not os.path.relpath(folder, root).startswith("test")
            for f in files if f.endswith(".py")]
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                names |= _defined_names(ast.parse(fh.read(), path))
    return frozenset(names)


@cache
def _our_private_names() -> frozenset[str]:
    names: set[str] = set()
    for path, tree in _package_files():
        if path not in COMPAT_LAYER:  # what the compat layer assigns is unittest's or asyncio's, not ours
            names |= _defined_names(tree)
    return frozenset(names)


def _stdlib_aliases(tree: ast.Module) -> set[str]:
    """Local names bound to a module of the stdlib packages (``import asyncio``, ``import concurrent.futures.thread as t``)."""
    aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in STDLIB_PACKAGES:
                    aliases.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in STDLIB_PACKAGES:
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    if importlib.util.find_spec(submodule.split(".")[0]) and _is_module(submodule):
                        aliases.add(alias.asname or alias.name)
    return aliases


def _is_module(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def private_stdlib_uses(tree: ast.Module) -> list[str]:
    """What *tree* reads of the stdlib's private names, or of the interpreter version, as ``line: text``."""
    stdlib, ours = _stdlib_private_names(), _our_private_names()
    aliases = _stdlib_aliases(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            base = node.value
            if isinstance(base, ast.Name) and base.id in aliases:
                found.append(f"{line}: {base.id}.{node.attr}")
            elif node.attr in stdlib and node.attr not in ours:
                found.append(f"{line}: ._{node.attr[1:]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _is_private(node.value) \
                and node.value in stdlib and node.value not in ours:
            found.append(f"{line}: {node.value!r}")  # getattr(test, "_outcome"), a list of names to skip
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in STDLIB_PACKAGES:
            if any(_is_private(part) for part in node.module.split(".")):
                found.append(f"{line}: from {node.module} import ...")
            found.extend(f"{line}: from {node.module} import {a.name}" for a in node.names if _is_private(a.name))
        elif isinstance(node, ast.Import):
            found.extend(f"{line}: import {a.name}" for a in node.names
                         if a.name.split(".")[0] in STDLIB_PACKAGES and any(_is_private(p) for p in a.name.split(".")))
        elif isinstance(node, ast.Attribute) and node.attr in ("version_info", "hexversion") \
                and isinstance(node.value, ast.Name) and node.value.id == "sys":
            found.append(f"{line}: sys.{node.attr}")
    return found


def unittest_hook_overrides(tree: ast.Module) -> list[str]:
    """Methods *tree* defines that override a private method of ``unittest.TestCase`` or its async subclass."""
    hooks = {name for cls in (unittest.TestCase, unittest.IsolatedAsyncioTestCase) for name in vars(cls)
             if _is_private(name) and callable(getattr(cls, name, None))}
    return [f"{node.lineno}: def {node.name}" for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in hooks]


def imports_unittest(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] == "unittest")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "unittest":
            found.append(f"{node.lineno}: from {node.module} import ...")
    return found


class PrivateNamesTests(unittest.TestCase):
    def test_only_compat_reads_private_asyncio_unittest_warnings_or_concurrent_names(self) -> None:
        offenders = {path: uses for path, tree in _package_files() if path not in COMPAT_LAYER
                     for uses in [private_stdlib_uses(tree)] if uses}
        self.assertEqual(offenders, {}, "move these reads into asynctestkit/_compat.py (with a canary test)")

    def test_only_the_unittest_glue_overrides_unittests_private_hooks(self) -> None:
        offenders = {path: defs for path, tree in _package_files() if path not in COMPAT_LAYER and path not in UNITTEST_GLUE
                     for defs in [unittest_hook_overrides(tree)] if defs}
        self.assertEqual(offenders, {})

    def test_the_rule_catches_each_kind_of_private_read(self) -> None:
        source = (
            "import asyncio, sys\n"
            "import concurrent.futures.thread as cft\n"
            "from asyncio.events import _get_running_loop\n"
            "x = asyncio._set_running_loop\n"
            "y = cft._threads_queues\n"
            "z = loop._ready\n"
            "w = getattr(test, '_outcome', None)\n"
            "v = sys.version_info >= (3, 11)\n"
        )
        uses = private_stdlib_uses(ast.parse(source))
        self.assertEqual([use.split(": ", 1)[0] for use in uses].count("3"), 1, uses)
        for expected in ("4: asyncio._set_running_loop", "5: cft._threads_queues", "6: ._ready",
                         "7: '_outcome'", "8: sys.version_info"):
            self.assertIn(expected, uses)

    def test_the_rule_lets_our_own_private_names_be(self) -> None:
        source = "class C:\n    def __init__(self, loop):\n        self._loop = loop\n    def f(self):\n" \
                 "        return self._loop, self.__dict__\n"
        self.assertEqual(private_stdlib_uses(ast.parse(source)), [])


class UnittestBoundaryTests(unittest.TestCase):
    def test_the_clock_does_not_import_unittest(self) -> None:
        offenders = {path: found for path, tree in _package_files() if path.startswith("clock" + os.sep)
                     for found in [imports_unittest(tree)] if found}
        self.assertEqual(offenders, {})

    def test_the_leak_engine_imports_unittest_only_in_its_glue_module(self) -> None:
        offenders = {path: found for path, tree in _package_files()
                     if path.startswith("leaks" + os.sep) and path != os.path.join("leaks", "_unittest.py")
                     for found in [imports_unittest(tree)] if found}
        self.assertEqual(offenders, {})

    def test_the_rule_sees_an_import_inside_a_function(self) -> None:
        tree = ast.parse("def f():\n    import unittest.mock\n    from unittest import case\n")
        self.assertEqual(imports_unittest(tree), ["2: import unittest.mock", "3: from unittest import ..."])


class PackagingTests(unittest.TestCase):
    def test_the_wheel_holds_every_subpackage(self) -> None:
        config = configparser.ConfigParser()
        config.read(os.path.join(os.path.dirname(PACKAGE), "setup.cfg"))
        packages = config["options"]["packages"].strip()
        subpackages = sorted("asynctestkit" + ("." + os.path.relpath(folder, PACKAGE).replace(os.sep, ".")
                                               if folder != PACKAGE else "")
                             for folder, _dirs, files in os.walk(PACKAGE) if "__init__.py" in files)
        self.assertIn("asynctestkit.clock", subpackages)
        if packages == "find:":
            patterns = config["options.packages.find"]["include"].split()
            missing = [name for name in subpackages if not any(fnmatch.fnmatch(name, p) for p in patterns)]
        else:
            missing = [name for name in subpackages if name not in packages.split()]
        self.assertEqual(missing, [], "setup.cfg leaves these packages out of the wheel")


class OwnFramesTests(unittest.TestCase):
    def test_our_own_frames_are_those_of_the_whole_package(self) -> None:
        self.assertEqual(_diagnostics.PACKAGE_DIR, PACKAGE + os.sep)
        for module in ("asynctestkit.clock._jump", "asynctestkit.leaks._tracker", "asynctestkit.assertions._base"):
            self.assertTrue(_diagnostics.is_internal_file(sys.modules[module].__file__ or ""), module)


if __name__ == "__main__":
    unittest.main()
