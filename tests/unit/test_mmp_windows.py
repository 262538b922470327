"""A run of the mmp DAG works on whole intervals of its schedule."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest


@pytest.mark.parametrize(
    ("schedule", "start", "end", "expected"),
    [
        ("0 * * * *", "2026-03-01T05:30", "2026-03-01T07:10", ["05:00", "06:00", "07:00", "08:00"]),
        ("0 * * * *", "2026-03-01T05:00", "2026-03-01T06:00", ["05:00", "06:00"]),
        ("0 0 * * *", "2026-03-01T05:30", "2026-03-02T00:00", ["00:00", "00:00"]),
    ],
)
def test_a_run_lands_whole_schedule_intervals(schedule, start, end, expected):
    from cadence.lake import Window
    from cadence.mmp.pipeline import schedule_windows

    span = Window(*(datetime.fromisoformat(v).replace(tzinfo=UTC) for v in (start, end)))
    windows = schedule_windows(span, schedule)
    bounds = [windows[0].start, *(w.end for w in windows)]
    assert [f"{b:%H:%M}" for b in bounds] == expected
    assert all(a.end == b.start for a, b in itertools.pairwise(windows))
    assert windows[0].start <= span.start and windows[-1].end >= span.end
