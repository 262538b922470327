"""dbt's own unit tests (``unit_tests:`` in the model YAML) on DuckDB, alone: no lake, no parents built.

The inner loop (`make test-fast`) runs this; the full `dbt build` in test_dbt_project.py runs them again
among every model and data test.
"""

from __future__ import annotations

from tests.support.local_dbt import invoke


def test_every_dbt_unit_test_passes(cadence_env):
    from cadence.dbt_group import dbt_env

    result = invoke(
        cadence_env, "test", "--select", "test_type:unit", "--log-path", str(cadence_env.data_dir),
        env=dbt_env(cadence_env),
    )  # fmt: skip
    assert result.success, result.exception
    # the project's on-run-start hook (lake external tables, a no-op on DuckDB) reports as an operation
    statuses = {
        r.node.unique_id: str(r.status)
        for r in result.result.results
        if not r.node.unique_id.startswith("operation.")
    }
    assert sum(uid.startswith("unit_test.") for uid in statuses) >= 5, statuses
    assert set(statuses.values()) == {"pass"}, statuses
