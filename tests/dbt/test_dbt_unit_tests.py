"""dbt's own unit tests (``unit_tests:`` in the model YAML) on DuckDB, alone: no lake, no parents built.

The inner loop (`make test-fast`) runs this; the full `dbt build` in test_dbt_project.py runs them again
among every model and data test.
"""

from __future__ import annotations


def test_every_dbt_unit_test_passes(cadence_env):
    import pytest
    from cadence.dbt_group import dbt_env, release_dbt_duckdb
    from dbt.cli.main import dbtRunner

    project = str(cadence_env.dbt_project_dir)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**dbt_env(cadence_env), "DBT_DUCKDB_PATH": str(cadence_env.duckdb_path)}.items():
            patch.setenv(name, value)
        try:
            result = dbtRunner().invoke(
                ["test", "--select", "test_type:unit", "--project-dir", project, "--profiles-dir", project,
                 "--target-path", str(cadence_env.data_dir / "dbt-target"),
                 "--log-path", str(cadence_env.data_dir), "--quiet"]
            )  # fmt: skip
        finally:
            release_dbt_duckdb()
    assert result.success, result.exception
    # the project's on-run-start hook (lake external tables, a no-op on DuckDB) reports as an operation
    statuses = {
        r.node.unique_id: str(r.status)
        for r in result.result.results
        if not r.node.unique_id.startswith("operation.")
    }
    assert sum(uid.startswith("unit_test.") for uid in statuses) >= 5, statuses
    assert set(statuses.values()) == {"pass"}, statuses
