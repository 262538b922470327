"""What every Cadence DAG shares: defaults, the trigger-form Params, run planning and the dbt task group.

DAG files stay thin by calling into this module. Nothing here does I/O at import; Cosmos renders from the
committed dbt manifest, so parsing a DAG file never runs dbt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cadence.config import CadenceSettings, Settings
from cadence.lake import Window

MANIFEST_PATH = "manifest/manifest.json"  # inside the dbt project; `make manifest` rebuilds it
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

log = logging.getLogger(__name__)


class RunConfError(ValueError):
    """The trigger conf cannot be run; the message says which value is wrong and why."""


@dataclass(frozen=True)
class RunPlan:
    """What one DAG run processes: its window, whether it is a backfill, and how far to look back."""

    window: Window
    is_backfill: bool
    is_full_refresh: bool
    lookback: timedelta

    def dbt_vars(self) -> dict[str, str]:
        return {
            "window_start": f"{self.window.start:%Y-%m-%d %H:%M:%S}",
            "window_end": f"{self.window.end:%Y-%m-%d %H:%M:%S}",
        }


def window_params() -> dict:
    """The trigger form: typed, described Params that Airflow validates before a run is created."""
    from airflow.sdk import Param

    return {
        "is_full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Rebuild the dbt models from the whole bronze lake instead of merging this window.",
        ),
        "backfill_start": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Backfill start (UTC)",
            description="Reprocess source changes from this time (inclusive). Leave empty for a normal run.",
        ),
        "backfill_end": Param(
            None,
            type=["null", "string"],
            format="date-time",
            title="Backfill end (UTC)",
            description="Reprocess source changes up to this time (exclusive). Required with a start.",
        ),
        "triggered_by": Param(
            None,
            type=["null", "string"],
            title="Triggered by",
            description="Set when the other cadence started this run; such a run never triggers back.",
        ),
        "trigger_reason": Param(
            None, type=["null", "string"], title="Trigger reason", description="Why it was triggered."
        ),
    }


def _plain_utc(moment: datetime) -> datetime:
    """A stdlib UTC datetime (Airflow hands out pendulum ones, which do not mix with stdlib arithmetic)."""
    return datetime.fromtimestamp(moment.timestamp(), UTC)


def _parse_moment(name: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise RunConfError(
                f"{name} {value!r} is not an ISO-8601 date-time such as 2026-03-01T00:00:00Z"
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def plan_run(
    params: dict,
    data_interval_start: datetime,
    data_interval_end: datetime,
    cadence: CadenceSettings,
    settings: Settings,
    now: datetime | None = None,
) -> RunPlan:
    """Turn the run's data interval and trigger conf into a window, refusing conf that cannot be run."""
    full_refresh = bool(params.get("is_full_refresh"))
    start, end = params.get("backfill_start"), params.get("backfill_end")
    if not start and not end:
        window = Window(_plain_utc(data_interval_start), _plain_utc(data_interval_end))
        return RunPlan(window, is_backfill=False, is_full_refresh=full_refresh, lookback=cadence.lookback)
    if not (start and end):
        missing = "backfill_end" if start else "backfill_start"
        raise RunConfError(f"a backfill needs both backfill_start and backfill_end; {missing} is empty")
    start_at, end_at = _parse_moment("backfill_start", start), _parse_moment("backfill_end", end)
    if end_at <= start_at:
        raise RunConfError(
            f"backfill_end {end_at.isoformat()} is not after backfill_start {start_at.isoformat()}"
        )
    if end_at - start_at > settings.max_backfill:
        raise RunConfError(
            f"backfill range of {end_at - start_at} exceeds the maximum of {settings.max_backfill}; "
            "split it into several runs or raise CADENCE_MAX_BACKFILL"
        )
    now = now or datetime.now(UTC)
    if end_at > now + timedelta(minutes=1):
        raise RunConfError(f"backfill_end {end_at.isoformat()} is in the future (now is {now.isoformat()})")
    return RunPlan(
        Window(start_at, end_at), is_backfill=True, is_full_refresh=full_refresh, lookback=timedelta(0)
    )


def dag_kwargs(cadence: CadenceSettings, doc_md: str | None, tags: list[str]) -> dict:
    """The arguments every cadence DAG shares: data-interval timetable, one run at a time, retries."""
    from airflow.sdk import CronDataIntervalTimetable

    return {
        "schedule": CronDataIntervalTimetable(cadence.schedule, timezone="UTC"),
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": cadence.dagrun_timeout,
        "default_args": {"retries": cadence.retries, "retry_delay": cadence.retry_delay, "owner": "cadence"},
        "params": window_params(),
        "tags": ["cadence", *tags],
        "doc_md": doc_md,
        # Native rendering lets a templated conf stay a dict and a templated full_refresh stay a bool.
        "render_template_as_native_obj": True,
    }


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment dbt needs to find the lake (sources read it in place on DuckDB).

    Cosmos exports these into the task process, so they use DBT_* names that Settings never reads.
    """
    return {"DBT_LAKE_ROOT": settings.lake_local_path, "DBT_LAKE_URL": settings.lake_url}


def _profile_config(settings: Settings):
    from cosmos import ProfileConfig

    if settings.warehouse == "bigquery":
        from cosmos.profiles import GoogleCloudServiceAccountDictProfileMapping

        mapping = GoogleCloudServiceAccountDictProfileMapping(conn_id=settings.warehouse_conn_id)
    else:
        from cosmos.profiles import DuckDBUserPasswordProfileMapping

        mapping = DuckDBUserPasswordProfileMapping(
            conn_id=settings.warehouse_conn_id, profile_args={"threads": 4, "settings": {"TimeZone": "UTC"}}
        )
    return ProfileConfig(profile_name="cadence", target_name=settings.warehouse, profile_mapping=mapping)


def dbt_task_group(
    settings: Settings,
    group_id: str,
    select: list[str],
    plan_task_id: str,
    extra_vars: tuple[str, ...] = (),
):
    """A Cosmos task group building ``select`` (models and their tests, one `dbt build` task per model).

    The window comes from the XCom of ``plan_task_id`` (a :meth:`RunPlan.dbt_vars` dict), so dbt processes
    exactly the window the ingest task landed; ``extra_vars`` names further keys of that XCom passed on as
    dbt vars of the same name. Every task uses the one-slot DuckDB pool.
    """
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import InvocationMode, LoadMode, TestBehavior

    project_dir = settings.dbt_project_dir
    window = f"ti.xcom_pull(task_ids='{plan_task_id}')"
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=project_dir,
            manifest_path=project_dir / MANIFEST_PATH,
            project_name="cadence",
            env_vars=dbt_env(settings),
        ),
        profile_config=_profile_config(settings),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            select=select,
            test_behavior=TestBehavior.BUILD,
            # A test over several models (hourly vs daily gold) runs once all of them are built.
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={
            "pool": settings.duckdb_pool,
            "install_deps": False,
            "full_refresh": "{{ params.is_full_refresh }}",
            "vars": {
                "window_start": "{{ " + window + "['window_start'] }}",
                "window_end": "{{ " + window + "['window_end'] }}",
                **{name: "{{ " + window + f"[{name!r}] }}}}" for name in extra_vars},
            },
        },
    )


def latest_interval(cadence: CadenceSettings, moment: datetime) -> tuple[datetime, datetime]:
    """The cadence's latest complete interval ending at or before ``moment``."""
    from croniter import croniter

    end = croniter(cadence.schedule, moment + timedelta(microseconds=1)).get_prev(datetime)
    return croniter(cadence.schedule, end).get_prev(datetime), end


def run_interval(context: dict, cadence: CadenceSettings) -> tuple[datetime, datetime]:
    """The run's data interval; a manual run without a logical date (Airflow 3) has none, so it gets the
    latest complete interval of the cadence before it was triggered."""
    if context.get("data_interval_start") is not None:  # absent (KeyError) or None on such runs
        return context["data_interval_start"], context["data_interval_end"]
    return latest_interval(cadence, _plain_utc(context["dag_run"].run_after))


def land_for_run(source: str, cadence: CadenceSettings, context: dict) -> dict:
    """The ingest task body: plan the run, land its window(s), return the dbt window and the counts."""
    from airflow.sdk.exceptions import AirflowFailException

    from cadence import catch_up, containment, ingest, sources
    from cadence.config import get_settings

    settings = get_settings()
    try:
        plan = plan_run(context["params"], *run_interval(context, cadence), cadence, settings)
    except RunConfError as error:  # the conf will not change: fail now, never retry
        raise AirflowFailException(str(error)) from None
    # Bad bronze files go aside first (their windows are then re-landed); a scheduled run catches up.
    contained = containment.contain(
        settings, source, plan.window, everything=plan.is_full_refresh, context=context
    )
    landing = plan.window if plan.is_backfill else catch_up.land_window(settings, source, plan.window)
    interval = plan.window.end - plan.window.start
    chunk = (
        cadence.backfill_chunk
        if plan.is_backfill
        else catch_up.chunk_size(landing, interval, cadence.backfill_chunk)
    )
    records = ingest.ingest(
        settings,
        sources.get_spec(source, settings),
        landing,
        lookback=plan.lookback,
        chunk=chunk,
        run_id=context["run_id"],
    )
    catch_up.supersede(settings, source, landing, context["run_id"])
    merging = landing if plan.is_backfill else catch_up.merge_window(settings, source, landing)
    return {
        **replace(plan, window=merging).dbt_vars(),
        "quarantined_files": len(contained),
        "is_backfill": plan.is_backfill,
        "is_full_refresh": plan.is_full_refresh,
        **ingest.summarize(records),
    }


def _landed_window(context: dict, land_task_id: str = "land") -> Window:
    landed = context["ti"].xcom_pull(task_ids=land_task_id)
    if not landed:
        raise RuntimeError(f"task {land_task_id!r} left no window: it did not complete")
    start, end = (
        datetime.fromisoformat(landed[k]).replace(tzinfo=UTC) for k in ("window_start", "window_end")
    )
    return Window(start, end)


def spins_trigger(context: dict) -> dict | None:
    """After purchases silver: how to trigger `spins` (``conf`` and ``run_id``), or None to leave it alone.

    A purchases backfill or full refresh carries its range over (gold must follow silver there). A
    scheduled run triggers spins only when bronze spins are stale, with the range that closes the gap, and
    at most once per spins interval: the run id names the hour, and nothing is triggered while a spins run
    is queued or running (it lands what there is). A run that was itself triggered never triggers back.
    """
    from cadence import freshness
    from cadence.config import get_settings

    settings, params, ti = get_settings(), context["params"], context["ti"]
    if params.get(freshness.TRIGGERED_BY):
        return None
    window = _landed_window(context)
    if params.get("is_full_refresh") or params.get("backfill_start"):
        kind = "full refresh" if params.get("is_full_refresh") else "backfill"
        span = f"{window.start:%Y-%m-%d %H:%M}-{window.end:%Y-%m-%d %H:%M} UTC"
        reason = f"purchases {kind} of {span} changed silver"
        conf = freshness.carried_conf("purchases", params, reason)
        return {"conf": conf, "run_id": f"purchases_{kind.replace(' ', '_')}__{context['run_id']}"}
    spins = freshness.check(settings, "spins_hourly", window.end, settings.spins.freshness_limit)
    log.info(spins.describe())
    if not spins.is_stale:
        return None
    if active := ti.get_dr_count("spins", states=["queued", "running"]):
        log.info("%d spins run(s) already queued or running: not triggering another", active)
        return None
    conf = freshness.catch_up_conf(
        "purchases", spins, window.end - settings.spins.backfill_chunk, settings.max_backfill, hourly=True
    )
    if conf is None:
        return None
    return {"conf": conf, "run_id": f"purchases_catch_up__{conf['backfill_end']}"}


CATCH_UP_TASK, BUILD_GOLD_TASK = "catch_up_purchases", "build_gold"
TRIGGER_CATCH_UP_TASK = "trigger_purchases"


def _wait_for_triggered_run_operator():
    """The operator class, built on first use so importing this module stays free of Airflow."""
    from airflow.providers.standard.triggers.external_task import DagStateTrigger
    from airflow.sdk import BaseOperator

    class WaitForTriggeredRun(BaseOperator):
        """Deferred wait, bounded by ``timeout``, for the DAG run that ``trigger_task_id`` triggered.

        TriggerDagRunOperator(wait_for_completion=True, deferrable=True) defers without a timeout, and
        Airflow 3.3 does not bound a deferred task by its execution_timeout, so it would wait until the
        dagrun_timeout. Deferring here with an explicit timeout gives up on time.
        """

        def __init__(self, *, trigger_task_id: str, dag_id_to_wait: str, timeout, poke_interval, **kwargs):
            super().__init__(**kwargs)
            self.trigger_task_id = trigger_task_id
            self.dag_id_to_wait = dag_id_to_wait
            self.wait_timeout = timeout
            self.poke_interval = poke_interval

        def execute(self, context):
            run_id = context["ti"].xcom_pull(task_ids=self.trigger_task_id, key="trigger_run_id")
            if not run_id:
                raise RuntimeError(f"{self.trigger_task_id} left no triggered run id")
            self.defer(
                trigger=DagStateTrigger(
                    dag_id=self.dag_id_to_wait,
                    states=["success", "failed"],
                    run_ids=[run_id],
                    poll_interval=self.poke_interval.total_seconds(),
                ),
                method_name="execute_complete",
                timeout=self.wait_timeout,
            )

        def execute_complete(self, context, event):
            _, data = event
            states = {run_id: data.get(run_id) for run_id in data["run_ids"]}
            if set(states.values()) != {"success"}:
                raise RuntimeError(f"the {self.dag_id_to_wait} catch-up run did not succeed: {states}")
            return states

    return WaitForTriggeredRun


def wait_for_triggered_run(*, task_id: str, trigger_task_id: str, dag_id: str, timeout, poke_interval):
    """A task waiting (deferred, at most ``timeout``) for the run another task triggered; never retried,
    since a retry after giving up would only wait again."""
    operator = _wait_for_triggered_run_operator()
    return operator(
        task_id=task_id,
        trigger_task_id=trigger_task_id,
        dag_id_to_wait=dag_id,
        timeout=timeout,
        poke_interval=poke_interval,
        retries=0,
    )


def purchases_gate(context: dict) -> str:
    """Before gold: branch to a purchases catch-up when bronze purchases are stale, else straight to gold."""
    from cadence import freshness
    from cadence.config import get_settings

    settings, params = get_settings(), context["params"]
    window = _landed_window(context)
    purchases = freshness.check(settings, "purchases", window.end, settings.purchases.freshness_limit)
    description = purchases.describe()
    log.info(description)
    context["ti"].xcom_push(key="freshness", value=description)
    if not purchases.is_stale or params.get(freshness.TRIGGERED_BY):
        return BUILD_GOLD_TASK
    conf = freshness.catch_up_conf("spins", purchases, window.start, settings.max_backfill, hourly=False)
    if conf is None:
        return BUILD_GOLD_TASK
    context["ti"].xcom_push(key="conf", value=conf)
    return TRIGGER_CATCH_UP_TASK


def gold_inputs(context: dict) -> dict:
    """Whether gold is about to be built on fresh purchases (checked again after any catch-up wait)."""
    from cadence import freshness
    from cadence.config import get_settings

    if context["ti"].xcom_pull(task_ids="check_purchases_freshness", key="freshness") is None:
        raise RuntimeError("the freshness check did not run (silver failed): gold is not built")
    settings = get_settings()
    window = _landed_window(context)
    purchases = freshness.check(settings, "purchases", window.end, settings.purchases.freshness_limit)
    return {"purchases_stale": purchases.is_stale, "purchases_freshness": purchases.describe()}


def record_gold(context: dict) -> dict:
    """One run-log record for the gold build of this window, saying whether purchases were stale."""
    from cadence import catch_up, lake
    from cadence.config import get_settings

    if catch_up.group_outcome(context, "gold") != catch_up.SUCCESS:  # recorded failed, then re-raised
        return catch_up.record_dbt_group(context, "spins_hourly", "gold")
    settings = get_settings()
    window = _landed_window(context)
    inputs = context["ti"].xcom_pull(task_ids=BUILD_GOLD_TASK)
    record = {
        "job": "gold",
        "window_start": window.start.isoformat(),
        "window_end": window.end.isoformat(),
        "status": "success",
        "run_id": context["run_id"],
        "built_on_stale_purchases": inputs["purchases_stale"],
        "note": inputs["purchases_freshness"],
    }
    lake.write_json(lake.run_log_path(settings, "gold", window), record)
    catch_up.supersede(settings, "gold", window, context["run_id"])
    return record
