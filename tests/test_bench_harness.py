"""The interleaved timer measures what it runs, in the order it promises."""

from __future__ import annotations

import time

from fasthmr_ros.bench.harness import Section, format_table, interleaved_times


def test_interleaved_timer_measures_known_durations_and_alternates() -> None:
    order: list[str] = []

    def sleeper(name: str, seconds: float):
        def run() -> None:
            order.append(name)
            time.sleep(seconds)

        return run

    times = interleaved_times({"short": sleeper("short", 0.002), "long": sleeper("long", 0.03)}, repeats=3)
    assert order == ["short", "long"] * 4  # one warm-up round, then three timed rounds, alternating
    assert len(times.wall["long"]) == 3
    assert 30 <= times.median_ms("long") < 300 and 2 <= times.median_ms("short") < 30
    assert times.median_ms("long") > 5 * times.median_ms("short")
    # Sleeping costs wall time, not CPU time: the CPU clock tells waiting from working.
    assert times.median_ms("long", cpu=True) < times.median_ms("long") / 3


def test_table_lists_every_column_and_note() -> None:
    section = Section("title", ["a", "b"], rows=[{"a": 1, "b": "xyz"}], notes=["note"])
    lines = format_table(section).splitlines()
    assert lines[0] == "== title" and lines[1].split() == ["a", "b"] and lines[2].split() == ["1", "xyz"]
    assert lines[-1].strip() == "note"
