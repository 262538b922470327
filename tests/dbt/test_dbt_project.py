"""The dbt project on DuckDB: the committed manifest is current, and `dbt build` passes on a real lake."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
from cadence import dbt_manifest, lake, sources
from cadence.lake import Window

from tests.support.data import SIM_NOW
from tests.support.local_dbt import invoke


def test_the_committed_manifest_is_current(cadence_env):
    stale = dbt_manifest.stale_nodes(cadence_env.dbt_project_dir)
    assert stale == [], f"run `make manifest`: {stale}"


def _dbt_build(settings, *args: str):
    return invoke(settings, "build", *args)


def test_dbt_build_passes_with_every_test_and_unit_test(landed_lake):
    result = _dbt_build(landed_lake)
    assert result.success, result.exception
    kinds = {r.node.resource_type for r in result.result.results}
    statuses = {r.node.unique_id: str(r.status) for r in result.result.results}
    assert {"model", "test", "unit_test"} <= {str(k) for k in kinds}
    assert sum(1 for uid in statuses if uid.startswith("unit_test.")) >= 3
    assert any(uid.startswith("test.cadence.source_") for uid in statuses), "source tests must run"
    assert all(status in ("success", "pass") for status in statuses.values()), statuses


def test_a_bad_bronze_row_fails_the_source_tests(landed_lake):
    """The tests can fail: a negative revenue slipped into bronze (bypassing validation) is caught."""
    window = Window(SIM_NOW, SIM_NOW + timedelta(hours=1))
    spec = sources.get_spec("purchases", landed_lake)
    row = {
        "transaction_id": "tx_bad", "user_id": "u000001", "purchased_at": SIM_NOW, "revenue_usd": None,
        "currency": "USD", "country": "US", "platform": "ios", "status": "completed", "created_at": SIM_NOW,
        "updated_at": SIM_NOW, "_window_start": window.start, "_window_end": window.end,
    }  # fmt: skip
    from decimal import Decimal

    row["revenue_usd"] = Decimal("-4.99")
    table = pa.Table.from_pylist([row], schema=spec.bronze_schema())
    lake.write_parquet(lake.bronze_path(landed_lake, "purchases", window), table)
    result = _dbt_build(landed_lake, "--select", "source:bronze.purchases")
    assert not result.success
    failed = [r.node.unique_id for r in result.result.results if str(r.status) == "fail"]
    assert any("accepted_range" in uid for uid in failed), failed
