"""The documentation's Python code stays true: every block compiles, every block marked ``run`` runs.

A fenced block whose info string starts with ``python`` is compiled (indented blocks inside list items are
dedented; top-level ``await`` is allowed, since snippets often show a line from inside a test).  A block
whose info string is ``python run`` is a complete program: it is written to a temporary file and run with
the interpreter running this suite, with the checkout on ``PYTHONPATH``; it must exit 0.
"""

from __future__ import annotations

import ast
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import textwrap
import unittest
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)(?P<info>.*)$")


@dataclass(frozen=True)
class CodeBlock:
    path: pathlib.Path
    line: int          # 1-based line of the opening fence
    info: str          # the info string, e.g. "python" or "python run"
    source: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runnable(self) -> bool:
        return self.info.split()[1:2] == ["run"]


def markdown_files() -> list[pathlib.Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def code_blocks(path: pathlib.Path) -> list[CodeBlock]:
    """Every fenced block of *path* whose language is Python, with its dedented source."""
    blocks: list[CodeBlock] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, info, start = match.group("fence"), match.group("info").strip(), index
        body: list[str] = []
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            body.append(lines[index])
            index += 1
        index += 1
        if info.split()[:1] == ["python"]:
            blocks.append(CodeBlock(path, start + 1, info, textwrap.dedent("\n".join(body)) + "\n"))
    return blocks


ALL_BLOCKS = [block for path in markdown_files() for block in code_blocks(path)]


class DocsCodeBlockTests(unittest.TestCase):
    def test_the_docs_have_python_blocks_and_at_least_one_runnable_one(self) -> None:
        self.assertGreater(len(ALL_BLOCKS), 10)
        self.assertTrue(any(block.runnable for block in ALL_BLOCKS), "no ```python run block anywhere")

    def test_every_python_block_compiles(self) -> None:
        for block in ALL_BLOCKS:
            with self.subTest(block=block.where):
                try:
                    compile(block.source, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                            dont_inherit=True)
                except SyntaxError as error:
                    self.fail(f"{block.where}: the ```{block.info} block does not compile: {error}")

    def test_every_block_marked_run_runs_and_exits_0(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        for block in (b for b in ALL_BLOCKS if b.runnable):
            with self.subTest(block=block.where), tempfile.TemporaryDirectory() as tmp:
                script = pathlib.Path(tmp, "doc_block.py")
                script.write_text(block.source, encoding="utf-8")
                done = subprocess.run([sys.executable, str(script)], cwd=tmp, env=env, capture_output=True,
                                      text=True, timeout=120)
                self.assertEqual(done.returncode, 0, f"{block.where}: the runnable block exited "
                                 f"{done.returncode}:\n{done.stdout}{done.stderr}")


class CodeBlockParserTests(unittest.TestCase):
    """The parser itself: a test that checks nothing would pass on broken docs."""

    def _blocks(self, text: str) -> list[CodeBlock]:
        with tempfile.TemporaryDirectory(dir=ROOT) as tmp:
            path = pathlib.Path(tmp, "page.md")
            path.write_text(text, encoding="utf-8")
            return code_blocks(path)

    def test_finds_python_blocks_only_and_dedents_list_item_blocks(self) -> None:
        text = ("intro\n```python\nx = 1\n```\n```\nnot python\n```\n- item\n\n  ```python run\n"
                "  if x:\n      pass\n  ```\n")
        blocks = self._blocks(text)
        self.assertEqual([(b.line, b.info, b.runnable) for b in blocks], [(2, "python", False), (10, "python run", True)])
        self.assertEqual(blocks[1].source, "if x:\n    pass\n")

    def test_a_broken_block_does_not_compile(self) -> None:
        (block,) = self._blocks("```python\ndef f(:\n```\n")
        with self.assertRaises(SyntaxError):
            compile(block.source, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


if __name__ == "__main__":
    unittest.main()
