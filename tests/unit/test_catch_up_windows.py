"""Where a scheduled run resumes, from the run log alone (no Airflow run, no dbt)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from cadence import catch_up, containment, lake
from cadence.lake import Window

pytestmark = pytest.mark.unit

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def window(k: int, size: timedelta = FIVE) -> Window:
    """The k-th 5-minute window before T (k=1 ends at T)."""
    return Window(T - k * FIVE, T - k * FIVE + size)


def log(settings, job: str, w: Window, status: str) -> None:
    record = {
        "job": job,
        "window_start": w.start.isoformat(),
        "window_end": w.end.isoformat(),
        "status": status,
    }
    lake.write_json(lake.run_log_path(settings, job, w), record)


def statuses(settings, job: str) -> dict[str, str]:
    folder = settings.data_dir / "lake/ops/run_log" / job
    return {p.stem: json.loads(p.read_text())["status"] for p in folder.rglob("*.json")}


def test_a_job_that_never_ran_starts_at_its_own_window(cadence_env):
    assert catch_up.land_window(cadence_env, "purchases", Window(T, T + FIVE)) == Window(T, T + FIVE)


def test_failed_and_missing_windows_are_landed_again_on_the_same_grid(cadence_env):
    for k in range(20, 10, -1):
        log(cadence_env, "purchases", window(k), "success")
    log(cadence_env, "purchases", window(10), "failed")  # then nothing ran for 8 windows
    log(cadence_env, "purchases", window(1), "failed")
    widened = catch_up.land_window(cadence_env, "purchases", Window(T, T + FIVE))
    assert widened == Window(window(10).start, T + FIVE)
    assert [w.label for w in widened.split(FIVE)][:2] == [window(10).label, window(9).label]


def test_a_success_covering_failed_windows_supersedes_them(cadence_env):
    log(cadence_env, "purchases", window(12), "success")
    log(cadence_env, "purchases", window(11), "failed")
    log(cadence_env, "purchases", window(10), "failed")
    assert catch_up.resume_point(cadence_env, "purchases", T) == window(11).start
    hour = Window(window(12).start, T)
    log(cadence_env, "purchases", hour, "success")  # a backfill chunk over the failed windows
    assert catch_up.supersede(cadence_env, "purchases", hour, "backfill_1") == [
        f"purchases_{window(11).label}.json",
        f"purchases_{window(10).label}.json",
    ]
    assert sorted(statuses(cadence_env, "purchases").values()) == [
        "success",
        "success",
        "superseded",
        "superseded",
    ]
    assert catch_up.resume_point(cadence_env, "purchases", T) == T


def test_silver_merges_from_its_last_success_widened_to_whole_bronze_batches(cadence_env):
    log(cadence_env, "purchases_silver", Window(T - timedelta(hours=2), T - timedelta(minutes=50)), "success")
    log(
        cadence_env,
        "purchases_silver",
        Window(T - timedelta(minutes=50), T - timedelta(minutes=45)),
        "failed",
    )
    batch = Window(T - timedelta(hours=1), T)  # a backfill chunk straddling where silver stopped
    lake.write_parquet(lake.bronze_path(cadence_env, "purchases", batch), pa.table({"x": [1]}))
    merged = catch_up.merge_window(cadence_env, "purchases", Window(T, T + FIVE))
    assert merged == Window(batch.start, T + FIVE)


def test_an_unreadable_bronze_file_is_moved_aside_and_its_window_marked_failed(cadence_env):
    good, bad = window(2), window(1)
    for w in (good, bad):
        lake.write_parquet(lake.bronze_path(cadence_env, "purchases", w), pa.table({"x": [1, 2]}))
        log(cadence_env, "purchases", w, "success")
    bad_path = cadence_env.data_dir / "lake/bronze/purchases/dt=2026-03-10" / f"purchases_{bad.label}.parquet"
    bad_path.write_bytes(bad_path.read_bytes()[:40])
    moved = containment.contain(cadence_env, "purchases", Window(T, T + FIVE))
    assert [m["file"] for m in moved] == [f"file://{bad_path}"] and not bad_path.exists()
    assert "magic bytes" in moved[0]["reason"].lower() or "parquet" in moved[0]["reason"].lower()
    assert statuses(cadence_env, "purchases") == {
        f"purchases_{good.label}": "success",
        f"purchases_{bad.label}": "failed",
    }
    assert catch_up.resume_point(cadence_env, "purchases", T) == bad.start  # so it is re-landed


def test_a_long_gap_is_landed_in_backfill_chunks_a_short_one_window_by_window():
    hour = timedelta(hours=1)
    assert catch_up.chunk_size(Window(T - 12 * FIVE, T), FIVE, hour) == FIVE
    assert catch_up.chunk_size(Window(T - 13 * FIVE, T), FIVE, hour) == hour
