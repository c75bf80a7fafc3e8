"""The pictures: Chrome Trace Event Format JSON (checked against the format's documented fields) and HTML/SVG."""

from __future__ import annotations

import asyncio
import html.parser
import json
import os
import tempfile
import unittest
from typing import Any

import asynctestkit
from asynctestkit.trace import chrome_trace, html_page, write_chrome_trace, write_html

from ._trace_support import run_case, run_traced


async def _pipeline() -> None:
    """A producer feeds a worker through a queue; a watchdog is cancelled at the end."""
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def producer() -> None:
        for item in range(3):
            await asyncio.sleep(1)
            await queue.put(item)

    async def worker() -> None:
        for _ in range(3):
            await queue.get()

    async def watchdog() -> None:
        await asyncio.sleep(60)

    dog = asyncio.create_task(watchdog(), name="watchdog")
    await asyncio.gather(asyncio.create_task(producer(), name="producer"), asyncio.create_task(worker(), name="worker"))
    dog.cancel()
    await asyncio.gather(dog, return_exceptions=True)


class ChromeTraceFormatTest(unittest.TestCase):
    """Fields as the Trace Event Format document defines them (ph, ts in µs, pid/tid, dur, s, id, bp, M)."""

    @classmethod
    def setUpClass(cls) -> None:
        trace, _ = run_traced(_pipeline)
        cls.document = chrome_trace(trace, title="pipeline")
        cls.events: list[dict[str, Any]] = cls.document["traceEvents"]

    def test_the_document_is_json_with_a_trace_events_array(self) -> None:
        self.assertEqual(json.loads(json.dumps(self.document)), self.document)
        self.assertIsInstance(self.events, list)
        self.assertIn(self.document["displayTimeUnit"], ("ms", "ns"))

    def test_every_event_has_the_required_fields_of_its_phase(self) -> None:
        for event in self.events:
            with self.subTest(event=event):
                self.assertIn(event["ph"], {"X", "i", "s", "f", "M"})
                self.assertIsInstance(event["name"], str)
                self.assertEqual(event["pid"], 1)
                self.assertIsInstance(event["tid"], int)
                if event["ph"] != "M":
                    self.assertIsInstance(event["ts"], (int, float))
                    self.assertGreaterEqual(event["ts"], 0)
                if event["ph"] == "X":
                    self.assertGreaterEqual(event["dur"], 0)
                if event["ph"] == "i":
                    self.assertIn(event["s"], {"g", "p", "t"})
                if event["ph"] in ("s", "f"):
                    self.assertIn("id", event)
                if event["ph"] == "f":
                    self.assertEqual(event["bp"], "e")
                if event["ph"] == "M":
                    self.assertIn(event["name"], {"process_name", "thread_name", "thread_sort_index"})
                    self.assertIn("name" if event["name"] != "thread_sort_index" else "sort_index", event["args"])

    def test_one_named_track_per_task_and_one_for_the_clock(self) -> None:
        names = {e["tid"]: e["args"]["name"] for e in self.events if e["name"] == "thread_name"}
        self.assertIn("clock and timers", names.values())
        for task in ("'producer' (producer())", "'worker' (worker())", "'watchdog' (watchdog())"):
            self.assertIn(task, names.values())
        used = {e["tid"] for e in self.events if e["ph"] != "M"}
        self.assertLessEqual(used, set(names))

    def test_slices_of_one_track_never_overlap_and_time_is_virtual_microseconds(self) -> None:
        by_tid: dict[int, list[tuple[int, int]]] = {}
        for event in self.events:
            if event["ph"] == "X":
                by_tid.setdefault(event["tid"], []).append((event["ts"], event["ts"] + event["dur"]))
        for spans in by_tid.values():
            spans.sort()
            for (_, end), (start, _) in zip(spans, spans[1:]):
                self.assertLessEqual(end, start)
        waits = [e for e in self.events if e["ph"] == "X" and e["name"] == "waits on sleep until t=1.000s"]
        self.assertTrue(waits)
        self.assertLessEqual(abs(waits[0]["ts"] + waits[0]["dur"] - 1_000_000), 50)  # ends at t=1 s (± spread)

    def test_flow_arrows_pair_up_and_start_and_end_inside_slices(self) -> None:
        starts = {e["id"]: e for e in self.events if e["ph"] == "s"}
        finishes = {e["id"]: e for e in self.events if e["ph"] == "f"}
        self.assertTrue(starts)
        self.assertEqual(set(starts), set(finishes))
        slices = [e for e in self.events if e["ph"] == "X"]

        def inside(tid: int, ts: int) -> bool:
            return any(s["tid"] == tid and s["ts"] <= ts <= s["ts"] + s["dur"] for s in slices)

        for number, start in starts.items():
            finish = finishes[number]
            self.assertLessEqual(start["ts"], finish["ts"])
            self.assertTrue(inside(start["tid"], start["ts"]) or start["tid"] == 1, start)
            self.assertTrue(inside(finish["tid"], finish["ts"]), finish)

    def test_cancellations_and_timer_fires_are_instant_events(self) -> None:
        instants = [(e["name"], e["tid"]) for e in self.events if e["ph"] == "i"]
        self.assertIn("cancel", [name for name, _tid in instants])
        self.assertIn("fire", [name for name, tid in instants if tid == 1])


class _Collector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_title = tag == "title"

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles.append(data)


class HtmlPageTest(unittest.TestCase):
    def test_the_page_is_self_contained_svg_with_rows_and_hover_text_naming_the_site(self) -> None:
        trace, _ = run_traced(_pipeline)
        page = html_page(trace, title="pipeline <demo>")
        self.assertNotIn("<script", page)
        self.assertNotIn("http://", page.replace('xmlns="http://www.w3.org/2000/svg"', ""))
        collector = _Collector()
        collector.feed(page)
        self.assertIn("svg", collector.tags)
        self.assertGreater(collector.tags.count("rect"), 10)
        self.assertEqual(collector.titles[0], "pipeline <demo>")
        self.assertTrue(any("waits on Queue.get()" in t and "test_export.py:" in t and "in worker" in t
                            for t in collector.titles), collector.titles[:20])
        for row in ("'producer' (producer())", "'worker' (worker())", "clock and timers"):
            self.assertIn(row.replace("'", "&#x27;"), page)

    def test_writing_both_files(self) -> None:
        trace, _ = run_traced(_pipeline)
        with tempfile.TemporaryDirectory() as folder:
            write_chrome_trace(trace, os.path.join(folder, "t.json"))
            write_html(trace, os.path.join(folder, "t.html"))
            with open(os.path.join(folder, "t.json"), encoding="utf-8") as file:
                self.assertIn("traceEvents", json.load(file))
            with open(os.path.join(folder, "t.html"), encoding="utf-8") as file:
                self.assertTrue(file.read().startswith("<!DOCTYPE html>"))


class ExportOnFailureTest(unittest.TestCase):
    def _case(self) -> type[asynctestkit.AsyncTestCase]:
        class Exported(asynctestkit.AsyncTestCase):
            async def test_passes(self) -> None:
                await asyncio.sleep(1)

            async def test_fails(self) -> None:
                await asyncio.sleep(1)
                self.fail("boom")

        return Exported

    def test_a_failing_test_writes_its_json_and_html_and_a_passing_one_nothing(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            run_case(self._case(), "test_passes", "test_fails", env=f"1,export={folder}")
            written = sorted(os.listdir(folder))
            self.assertEqual(len(written), 2, written)
            self.assertTrue(written[0].endswith("Exported.test_fails.html"), written)
            self.assertTrue(written[1].endswith("Exported.test_fails.trace.json"), written)

    def test_all_writes_the_files_of_passing_tests_too(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            run_case(self._case(), "test_passes", "test_fails", env=f"1,export={folder},all")
            self.assertEqual(len(os.listdir(folder)), 4)

    def test_the_class_attribute_asks_for_files_without_the_environment(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            case = self._case()
            case.trace_export = folder
            run_case(case, "test_fails")
            self.assertEqual(len(os.listdir(folder)), 2)


if __name__ == "__main__":
    unittest.main()
