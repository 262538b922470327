"""The window reaches dbt in the environment of every Cosmos task (so dbt's partial parsing holds), never in
--vars, and renders to the window the land task returned; the tasks' dbt flags and shared parse state."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.dags


WINDOW = {"window_start": "2026-03-10 11:00:00", "window_end": "2026-03-10 12:00:00"}


class _TaskInstance:
    def __init__(self, returned=WINDOW):
        self.returned = returned

    def xcom_pull(self, task_ids):
        assert task_ids == "land"
        return self.returned


@pytest.mark.parametrize("dag_id", ["purchases", "spins", "telemetry"])
def test_every_dbt_task_gets_the_window_in_its_environment(load_dag, dag_id):
    from cosmos.operators.base import AbstractDbtBase

    dbt_tasks = [t for t in load_dag(dag_id).tasks if isinstance(t, AbstractDbtBase)]
    assert dbt_tasks
    for task in dbt_tasks:
        assert not {"window_start", "window_end"} & set(task.vars or {}), task.task_id
        env = task.render_template(task.env, {"ti": _TaskInstance()})
        assert (env["DBT_WINDOW_START"], env["DBT_WINDOW_END"]) == (
            "2026-03-10 11:00:00",
            "2026-03-10 12:00:00",
        )
        assert env["DBT_LAKE_ROOT"]


def test_a_run_without_a_window_renders_it_empty_not_as_none(load_dag):
    """A telemetry full refresh returns no window: dbt must see an empty variable (every row counts),
    never the text "None" cast to a timestamp."""
    from cosmos.operators.base import AbstractDbtBase

    task = next(t for t in load_dag("telemetry").tasks if isinstance(t, AbstractDbtBase))
    env = task.render_template(task.env, {"ti": _TaskInstance({"window_start": None, "window_end": None})})
    assert (env["DBT_WINDOW_START"], env["DBT_WINDOW_END"]) == ("", "")


def _grouped_dbt_tasks(load_dag, dag_id: str) -> list:
    """The dbt tasks of ``dag_id``'s Cosmos groups (the docs task outside them runs no model)."""
    from cosmos.operators.base import AbstractDbtBase

    return [t for t in load_dag(dag_id).tasks if isinstance(t, AbstractDbtBase) and t.task_group.group_id]


@pytest.mark.parametrize("warehouse", ["duckdb", "bigquery"])
@pytest.mark.parametrize("dag_id", ["purchases", "spins", "telemetry", "daily_kpis"])
def test_dbt_tasks_neither_fill_the_relation_cache_nor_write_artifacts(
    load_dag, monkeypatch, dag_id, warehouse
):
    """One model per task: listing every schema up front, and writing manifest.json and run_results.json
    into a throwaway copy, cost more than the model itself on a small window (the docs task outside the
    groups writes the docs site, artifacts included)."""
    monkeypatch.setenv("CADENCE_WAREHOUSE", warehouse)
    dbt_tasks = _grouped_dbt_tasks(load_dag, dag_id)
    assert dbt_tasks
    for task in dbt_tasks:
        flags = task.dbt_cmd_global_flags or []
        assert {"--no-populate-cache", "--no-write-json"} <= set(flags), (task.task_id, flags)


def _cache_dirs(load_dag, dag_id: str) -> dict[str, set]:
    """The partial-parse cache folder of every dbt task of ``dag_id``'s Cosmos groups, by group."""
    dirs: dict[str, set] = {}
    for task in _grouped_dbt_tasks(load_dag, dag_id):
        dirs.setdefault(task.task_group.group_id, set()).add(task.cache_dir)
    return dirs


@pytest.mark.parametrize("warehouse", ["duckdb", "bigquery"])
def test_groups_with_the_same_profile_and_vars_share_one_partial_parse_cache(
    load_dag, monkeypatch, tmp_path, warehouse
):
    """Cosmos would give each group a cache of its own (a full parse in each group's first task); groups
    with the same profile and --vars share one, other vars or another DuckDB file get another."""
    monkeypatch.setenv("CADENCE_WAREHOUSE", warehouse)
    spins = _cache_dirs(load_dag, "spins")
    assert set(spins) == {"silver", "gold"}
    (shared,) = set.union(*spins.values())
    assert shared.name.startswith("cadence__")

    # kpis passes no --vars (spins' cache), kpi_monitoring and pipeline_health each vars of their own
    daily = _cache_dirs(load_dag, "daily_kpis")
    assert all(len(dirs) == 1 for dirs in daily.values()), daily
    assert daily["kpis"] == {shared}
    assert len({next(iter(dirs)) for dirs in daily.values()}) == 3

    monkeypatch.setenv("CADENCE_DATA_DIR", str(tmp_path))
    elsewhere = set.union(*_cache_dirs(load_dag, "spins").values())
    assert (elsewhere == {shared}) is (warehouse == "bigquery"), "the DuckDB file is part of the profile"
