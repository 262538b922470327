"""How Cadence runs dbt: the Cosmos task group of a DAG, its profile and environment, and the in-process
connection release.

Cosmos renders from the committed manifest (:data:`MANIFEST_PATH`), so parsing a DAG file never runs dbt.
"""

from __future__ import annotations

from cadence.config import Settings

MANIFEST_PATH = "manifest/manifest.json"  # inside the dbt project; `make manifest` rebuilds it
WINDOW_KEYS = ("window_start", "window_end")
#: Global flags of every dbt call that builds one model (a Cosmos task, a monitoring build): no
#: manifest.json, run_results.json or dbt.log in its throwaway target (nothing reads them: the results come
#: from dbtRunner, the log lines reach the caller's log; writing them was half of a small model's call,
#: ~0.3 s of CPU), and no relation cache filled up front (dbt listed every schema of the project first, one
#: query each, a dataset listing on BigQuery; it now lists a schema when the model asks). dbt still writes
#: its partial-parse state, which both callers keep.
ONE_MODEL_FLAGS = ("--no-write-json", "--log-level-file", "none", "--no-populate-cache")


def run_value_variable(key: str) -> str:
    """The environment variable a per-run value ``key`` reaches dbt in (read by the dbt macro run_value)."""
    return f"DBT_{key.upper()}"


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment dbt needs to find the lake (sources read it in place on DuckDB).

    Cosmos exports these into the task process, so they use DBT_* names that Settings never reads.
    """
    return {"DBT_LAKE_ROOT": settings.lake_local_path, "DBT_LAKE_URL": settings.lake_url}


def profile_config(settings: Settings):
    """The dbt profile from the warehouse Airflow connection (DuckDB locally, BigQuery in production)."""
    from cosmos import ProfileConfig

    from cadence.warehouse import profile_mapping

    return ProfileConfig(
        profile_name="cadence", target_name=settings.warehouse, profile_mapping=profile_mapping(settings)
    )


def _xcom_template(output, key: str) -> str:
    """A Jinja expression of ``key`` in the dict a task returned (``output``: that task's XComArg); a None
    there (no window: a full refresh) renders empty, never as the text "None"."""
    return f"{{{{ ti.xcom_pull(task_ids={output.operator.task_id!r})[{key!r}] or '' }}}}"


def dbt_task_group(
    settings: Settings,
    group_id: str,
    select: list[str],
    window,
    extra_vars: tuple[str, ...] = (),
    run_values: tuple[str, ...] = (),
):
    """A Cosmos task group building ``select`` (models and their tests, one `dbt build` task per model).

    ``window`` is the XComArg of the task that planned or landed the run (a dict with the
    :func:`cadence.planning.window_vars` keys), so dbt processes exactly that window, which reaches dbt as
    DBT_WINDOW_START / DBT_WINDOW_END so that partial parsing holds; ``run_values`` names further keys of
    that dict that change from run to run, passed on the same way (DBT_<KEY>, read by the dbt macro
    ``run_value``), and ``extra_vars`` keys whose values stay put (settings), passed on as dbt vars of the
    same name. The DAG places the group downstream of that task; every dbt task uses the warehouse's pool
    (one slot on DuckDB).
    """
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    from cadence.warehouse import warehouse_pool

    project_dir = settings.dbt_project_dir
    # The window travels in the environment (read by the models only while executing), not in --vars: a
    # --vars that changes every run makes dbt parse the whole project again in every task.
    window_env = {run_value_variable(key): _xcom_template(window, key) for key in (*WINDOW_KEYS, *run_values)}
    manifest = project_dir / MANIFEST_PATH
    project_config = ProjectConfig(
        dbt_project_path=project_dir,
        manifest_path=manifest,
        project_name="cadence",
        env_vars={**dbt_env(settings), **window_env},
    )
    # Cosmos wraps the manifest in an ObjectStoragePath, whose first read registers every installed
    # provider's filesystem: it imports the Google provider (~0.5 s of CPU) in every process that parses a
    # DAG file (each parse of the dag-processor, each task). The manifest is a file of the project, and
    # Cosmos reads a plain Path as well.
    project_config.manifest_path = manifest
    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project_config,
        profile_config=profile_config(settings),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=select,
            test_behavior=TestBehavior.BUILD,
            # A test over several models (hourly vs daily gold) runs once all of them are built.
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={
            "pool": warehouse_pool(settings),
            "install_deps": False,
            "dbt_cmd_global_flags": list(ONE_MODEL_FLAGS),
            "full_refresh": "{{ params.is_full_refresh }}",
            **({"vars": {name: _xcom_template(window, name) for name in extra_vars}} if extra_vars else {}),
        },
    )
    _share_partial_parse_cache(group, settings, extra_vars)
    return group


def parse_state_key(settings: Settings, var_names) -> str:
    """A short key for dbt's saved partial-parse state, which stays valid for the same project, warehouse,
    connection, DuckDB file and --vars (passed by name here: their values come from settings). dbt checks
    the profile and vars itself and parses in full when they differ, so a key can only cost a parse."""
    import hashlib

    parts = [str(settings.dbt_project_dir), settings.warehouse, settings.warehouse_conn_id]
    parts += sorted(var_names)
    if settings.warehouse == "duckdb":
        parts.append(str(settings.duckdb_path))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def _share_partial_parse_cache(group, settings: Settings, extra_vars: tuple[str, ...]) -> None:
    """Give every dbt task of ``group`` the partial-parse cache of its profile and vars, shared by all groups.

    Cosmos keeps dbt's partial-parse state per task group (``<cache_dir>/<dag>__<group>``), so the first task
    of each group parsed the whole project again (~3 s of CPU) though every group runs the same project on
    the same profile. Keyed by :func:`parse_state_key` instead: one full parse per worker and profile, not
    per group, and groups with other vars or another DuckDB file keep their own state.
    """
    key = parse_state_key(settings, extra_vars)
    for task in group.iter_tasks():
        if getattr(task, "cache_dir", None) is not None:  # None: Cosmos's cache is off
            task.cache_dir = task.cache_dir.parent / f"cadence__{key}"


def release_dbt_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB connection open after an in-process run (the CLIs, or Cosmos under
    ``dag.test()``); close it, so this process (or the next in-process run) can open the warehouse file.
    A no-op when dbt-duckdb never ran in this process (every task of a deployed DAG runs in its own)."""
    import gc
    import sys

    if "dbt.adapters.duckdb.connections" not in sys.modules:
        return
    sys.modules["dbt.adapters.duckdb.connections"].DuckDBConnectionManager.close_all_connections()
    gc.collect()
