"""A landing validates its chunks together; when the source fails part-way, what was extracted before the
failure still lands, with its records, and the failed chunk has a ``failed`` record (cadence.ingest)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.data import SIM_NOW, run_log, seed_source, source_frame

pytestmark = pytest.mark.dags


def test_a_source_failing_part_way_lands_the_chunks_before_it(cadence_env, monkeypatch):
    from cadence import ingest, sources
    from cadence.lake import Window

    seed_source(0.25)
    spec = sources.get_spec("purchases", cadence_env)
    window, chunk = Window(SIM_NOW - timedelta(hours=3), SIM_NOW), timedelta(hours=1)
    extract, calls = sources.extract, []

    def failing_third(hook, spec, start, end):
        calls.append(start)
        if len(calls) == 3:
            raise sources.SourceError("the source went away")
        return extract(hook, spec, start, end)

    monkeypatch.setattr(sources, "extract", failing_third)
    with pytest.raises(sources.SourceError, match="went away"):
        ingest.ingest(cadence_env, spec, window, lookback=timedelta(0), chunk=chunk, run_id="r1")

    records = run_log(cadence_env, "purchases")
    assert [r["status"] for r in records] == ["success", "success", "failed"]  # nothing after the failure
    assert "the source went away" in records[-1]["error"]
    changed = source_frame(cadence_env)["updated_at"]  # text, compared as the extraction's SQL does
    for record, part in zip(records[:2], window.split(chunk), strict=False):
        start, end = (f"{moment:%Y-%m-%dT%H:%M:%SZ}" for moment in (part.start, part.end))
        assert record["rows_extracted"] == ((changed >= start) & (changed < end)).sum() > 0
        assert record["rows_extracted"] == record["rows_landed"] + record["rows_quarantined"]
    bronze = sorted((cadence_env.data_dir / "lake/bronze/purchases").rglob("*.parquet"))
    assert [path.stem for path in bronze] == [f"purchases_{part.label}" for part in window.split(chunk)[:2]]
