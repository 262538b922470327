"""The cadences under a real Airflow stack: api-server, scheduler (LocalExecutor), dag-processor, triggerer,
each its own process, in a temporary home on a spare port (tests/support/stack.py).

`dag.test()` runs one DAG in-process, so a run one cadence triggers never executes there. Here the runs
are triggered through the REST API exactly as an operator (or Airflow's own backfill) would, and the
scheduler runs them and whatever they trigger. One stack serves the whole module (start-up is the
expensive part); the source database is seeded once with a day of both streams, and every scenario
starts from an empty lake and warehouse (the stack's data folder minus its source database). Only
triggered runs execute (the harness turns the cron schedule off). The catch-up wait of `spins` is
shortened through the stack's environment (CADENCE_TRIGGERS__*), so a purchases catch-up that cannot
happen gives up in seconds.

Scenarios, each a module fixture that drives the stack and records what it saw, with tests asserting on it:

* ``operator_backfill``: a purchases backfill through the trigger form's Params, `spins` paused.
* ``stale_spins``: a scheduled-style purchases run finds spins stale and triggers `spins` with a catch-up
  range; that run executes, builds gold and does not trigger back.
* ``backfill_routes``: Airflow's own backfill (``POST /api/v2/backfills``) of both DAGs against the Params
  route over the same source range: the same silver and gold.
* ``purchases_cannot_catch_up``: `purchases` paused, `spins` finds purchases stale and waits for a
  catch-up that cannot run; gold must still be built, flagged as built on stale purchases.
"""

from __future__ import annotations

import shutil
import time
from datetime import timedelta

import pandas as pd
import pytest

from tests.support.data import (
    SIM_NOW,
    gold_records,
    run_log,
    seed_source,
    silver,
    source_frame,
    warehouse_query,
)
from tests.support.expected import expected_reasons, expected_silver

# One stack for the module; its lane runs one stack at a time (tests/conftest.py).
pytestmark = pytest.mark.scheduler(lane=2)

RANGE_START, RANGE_END = SIM_NOW - timedelta(hours=16), SIM_NOW - timedelta(hours=13)  # busy evening hours
BACKFILL = {"backfill_start": RANGE_START.isoformat(), "backfill_end": RANGE_END.isoformat()}
WAIT = timedelta(seconds=10)  # how long `spins` waits for a purchases catch-up, in this stack
RUN_TIMEOUT = 300  # seconds for one run on a busy 2-core machine
STACK_ENV = {
    "CADENCE_TRIGGERS__WAIT_TIMEOUT": f"PT{WAIT.seconds}S",
    "CADENCE_TRIGGERS__POKE_INTERVAL": "PT3S",
    # How often the scheduler fails deferred tasks whose timeout passed (default 15 s).
    "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": "3",
}
GIVE_UP_MARGIN = 25  # seconds after WAIT for the scheduler to notice the timeout and fail the task
FINISHED_TASK = {"success", "failed", "skipped", "upstream_failed", "removed"}


# ------------------------------------------------------------------------------------------ harness


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """One running stack for the module, its source database seeded with a day of both streams."""
    from tests.support.stack import AirflowStack, free_port

    stack = AirflowStack(tmp_path_factory.mktemp("stack"), port=free_port(), env=STACK_ENV)
    with pytest.MonkeyPatch.context() as patch:
        for name in ("CADENCE_DATA_DIR", "AIRFLOW_CONN_CADENCE_SOURCE", "AIRFLOW_CONN_CADENCE_WAREHOUSE"):
            patch.setenv(name, stack.environment[name])
        seed_source(days=1, streams=("purchases", "spins_hourly"))
    with stack:
        for dag_id in ("purchases", "spins"):
            stack.wait_for_dag(dag_id)
        yield stack


def settings_of(stack):
    from cadence.config import load_settings

    return load_settings(data_dir=stack.data_dir)


def empty_lake_and_warehouse(stack) -> None:
    """Start a scenario from nothing landed (the source database stays). No run may be active."""
    for dag_id in ("purchases", "spins"):
        active = [r["dag_run_id"] for r in stack.runs(dag_id) if r["state"] in ("queued", "running")]
        assert not active, f"{dag_id} runs still active from an earlier scenario: {active}"
    shutil.rmtree(stack.data_dir / "lake", ignore_errors=True)
    for name in ("warehouse.duckdb", "warehouse.duckdb.wal"):
        (stack.data_dir / name).unlink(missing_ok=True)


def run_ids(stack, dag_id: str) -> set[str]:
    return {run["dag_run_id"] for run in stack.runs(dag_id)}


def new_runs(stack, dag_id: str, before: set[str]) -> list[dict]:
    return [run for run in stack.runs(dag_id) if run["dag_run_id"] not in before]


def wait_green(stack, dag_id: str, run_id: str) -> dict[str, str | None]:
    """Wait for the run; fail with its task states unless it succeeded."""
    state = stack.wait(dag_id, run_id, timeout=RUN_TIMEOUT)
    tasks = stack.task_states(dag_id, run_id)
    assert state == "success", f"{dag_id} {run_id} ended {state}: {tasks}"
    return tasks


def task_state(stack, dag_id: str, run_id: str, task_id: str) -> str | None:
    return stack.task_states(dag_id, run_id).get(task_id)


def gold_counts(settings) -> dict[str, int]:
    tables = ("gold.aggregated_final_table", "gold.aggregated_daily_table")
    return {t: int(warehouse_query(settings, f"select count(*) as n from {t}")["n"][0]) for t in tables}


# -------------------------------------------------------------- a purchases backfill through Params


@pytest.fixture(scope="module")
def operator_backfill(stack):
    """One backfill of three hours, triggered with the trigger form's Params; `spins` paused, so the
    `spins` run that the purchases backfill triggers is created but stays queued (and is then dropped):
    this measures purchases alone."""
    empty_lake_and_warehouse(stack)
    before = {dag_id: run_ids(stack, dag_id) for dag_id in ("purchases", "spins")}
    stack.pause("spins")
    try:
        run_id = stack.trigger("purchases", conf=BACKFILL)
        state = stack.wait("purchases", run_id, timeout=RUN_TIMEOUT)
        result = {
            "settings": settings_of(stack),
            "run_id": run_id,
            "state": state,
            "runs": new_runs(stack, "purchases", before["purchases"]),
            "tasks": stack.task_states("purchases", run_id),
            "spins_runs": new_runs(stack, "spins", before["spins"]),
        }
        result["run_log"] = run_log(result["settings"], "purchases")  # the ingest records
        result["silver"] = silver(result["settings"])
    finally:
        for run in new_runs(stack, "spins", before["spins"]):
            stack.delete_run("spins", run["dag_run_id"])
        stack.unpause("spins")
    return result


def in_range(source: pd.DataFrame) -> pd.DataFrame:
    changed = pd.to_datetime(source["updated_at"], utc=True)
    return source[(changed >= RANGE_START) & (changed < RANGE_END)]


def test_the_triggered_backfill_succeeds_and_is_the_only_run(operator_backfill):
    result = operator_backfill
    assert result["state"] == "success", result["tasks"]
    assert result["tasks"]["land"] == "success"
    silver = [state for task, state in result["tasks"].items() if task.startswith("silver.")]
    assert silver and set(silver) == {"success"}  # purchases and its superseded-versions model
    (run,) = result["runs"]
    assert run["dag_run_id"] == result["run_id"]
    assert run["run_type"] == "manual" and run["conf"] == BACKFILL
    assert run["start_date"] and run["end_date"]


def test_the_backfill_is_carried_over_to_spins(operator_backfill):
    """Gold must follow silver: the backfill range is handed to `spins` (paused here, so it only queues)."""
    (spins,) = operator_backfill["spins_runs"]
    assert spins["state"] == "queued" and spins["run_type"] == "operator_triggered"
    assert spins["conf"]["triggered_by"] == "purchases"
    assert spins["conf"]["backfill_start"] == BACKFILL["backfill_start"]
    assert spins["conf"]["backfill_end"] == BACKFILL["backfill_end"]


def test_run_log_accounts_for_every_source_row_in_the_range(operator_backfill):
    settings = operator_backfill["settings"]
    source = in_range(source_frame(settings))
    reasons = expected_reasons(source)
    records = operator_backfill["run_log"]
    assert len(records) == 3  # three hourly windows
    assert {r["run_id"] for r in records} == {operator_backfill["run_id"]}
    assert all(r["status"] == "success" for r in records)
    assert sum(r["rows_extracted"] for r in records) == len(source)
    assert sum(r["rows_quarantined"] for r in records) == (reasons != "").sum()
    assert sum(r["rows_landed"] for r in records) == (reasons == "").sum()


def test_silver_holds_exactly_the_latest_valid_version_of_each_transaction_in_the_range(operator_backfill):
    expected = expected_silver(in_range(source_frame(operator_backfill["settings"])))
    assert len(expected) > 100
    pd.testing.assert_frame_equal(operator_backfill["silver"], expected, check_dtype=False)


# ------------------------------------------------------ stale spins: purchases triggers a catch-up


@pytest.fixture(scope="module")
def stale_spins(stack):
    """Nothing landed yet, so spins are stale: one scheduled-style purchases run (its data interval, no
    Params) at SIM_NOW must trigger `spins` for the missing hour, and that run must finish on its own."""
    empty_lake_and_warehouse(stack)
    before = {dag_id: run_ids(stack, dag_id) for dag_id in ("purchases", "spins")}
    run_id = stack.trigger("purchases", logical_date=SIM_NOW)
    purchases_tasks = wait_green(stack, "purchases", run_id)
    spins_runs = new_runs(stack, "spins", before["spins"])
    assert len(spins_runs) == 1, f"expected the one spins run purchases triggered, got {spins_runs}"
    spins_run_id = spins_runs[0]["dag_run_id"]
    spins_state = stack.wait("spins", spins_run_id, timeout=RUN_TIMEOUT)
    settings = settings_of(stack)
    return {
        "purchases_run": stack.run("purchases", run_id),
        "purchases_tasks": purchases_tasks,
        "spins_run": stack.run("spins", spins_run_id),
        "spins_state": spins_state,
        "spins_tasks": stack.task_states("spins", spins_run_id),
        "purchases_runs": new_runs(stack, "purchases", before["purchases"]),
        "spins_runs": new_runs(stack, "spins", before["spins"]),
        "gold_counts": gold_counts(settings),
        "gold_records": gold_records(settings),
    }


def test_a_purchases_run_triggers_spins_with_a_catch_up_range_when_spins_are_stale(stale_spins):
    assert stale_spins["purchases_run"]["data_interval_end"].startswith(SIM_NOW.strftime("%Y-%m-%dT%H:%M"))
    assert stale_spins["purchases_tasks"]["check_spins_freshness"] == "success"
    assert stale_spins["purchases_tasks"]["trigger_spins"] == "success"
    run = stale_spins["spins_run"]
    assert run["run_type"] == "operator_triggered"
    conf = run["conf"]
    assert conf["triggered_by"] == "purchases" and "never landed" in conf["trigger_reason"]
    # The hour before the purchases window end (spins never landed), aligned to whole hours.
    assert conf["backfill_start"] == (SIM_NOW - timedelta(hours=1)).isoformat()
    assert conf["backfill_end"] == SIM_NOW.isoformat()


def test_the_triggered_spins_run_finishes_green_and_builds_gold(stale_spins):
    assert stale_spins["spins_state"] == "success", stale_spins["spins_tasks"]
    tasks = stale_spins["spins_tasks"]
    gold_tasks = {task: state for task, state in tasks.items() if task.startswith("gold.")}
    assert gold_tasks and set(gold_tasks.values()) == {"success"}, gold_tasks
    assert tasks["build_gold"] == "success" and tasks["log_gold"] == "success"
    assert all(count > 0 for count in stale_spins["gold_counts"].values()), stale_spins["gold_counts"]
    (record,) = stale_spins["gold_records"]
    assert record["run_id"] == stale_spins["spins_run"]["dag_run_id"]
    assert record["built_on_stale_purchases"] is False  # purchases landed up to SIM_NOW just before


def test_the_triggered_spins_run_does_not_trigger_purchases_back(stale_spins):
    """Here purchases are fresh for the triggered run anyway (they just landed up to its window end); the
    guard itself is exercised from the other side, where the run would otherwise trigger: see
    test_the_catch_up_run_never_triggers_spins_back_and_nothing_deadlocks."""
    assert stale_spins["spins_tasks"]["catch_up_purchases"] == "skipped"
    assert [r["conf"].get("triggered_by") for r in stale_spins["purchases_runs"]] == [None]
    assert len(stale_spins["spins_runs"]) == 1


# ---------------------------------------------------------- Airflow backfill against the Params route

# One spins hour and the last three purchases windows of it (logical dates are interval starts).
SPINS_HOUR = SIM_NOW - timedelta(hours=15)  # 21:00-22:00 the evening before
PURCHASES_FIRST, PURCHASES_LAST = SPINS_HOUR + timedelta(minutes=45), SPINS_HOUR + timedelta(minutes=55)
ROUTE_END = SPINS_HOUR + timedelta(hours=1)
BUSINESS_SILVER = {
    "silver.purchases": "transaction_id, user_id, country, platform, currency, status, revenue_usd, "
    "net_revenue_usd, purchased_at, purchase_hour, created_at, updated_at",
    "silver.spins_hourly": "app_hour, user_id, country, total_spins, coins_bet, coins_won, "
    "created_at, updated_at",
}
GOLD_TABLES = ("gold.aggregated_final_table", "gold.aggregated_daily_table")


def tables(settings) -> dict[str, pd.DataFrame]:
    frames = {
        t: warehouse_query(settings, f"select {c} from {t} order by all") for t, c in BUSINESS_SILVER.items()
    }
    frames.update({t: warehouse_query(settings, f"select * from {t} order by all") for t in GOLD_TABLES})
    return frames


def drop_queued(stack, dag_id: str, before: set[str]) -> list[dict]:
    """Delete the runs of ``dag_id`` created since ``before`` that are still queued; return them."""
    dropped = [run for run in new_runs(stack, dag_id, before) if run["state"] == "queued"]
    for run in dropped:
        stack.delete_run(dag_id, run["dag_run_id"])
    return dropped


@pytest.fixture(scope="module")
def backfill_routes(stack):
    """The same source range through Airflow's backfill and through Params, from an empty lake each time.

    Airflow backfill: ``POST /api/v2/backfills`` for purchases (logical dates 21:45, 21:50, 21:55: three
    5-minute runs, up to three at a time: a backfill has its own max_active_runs, the DAG's
    max_active_runs=1 limits only the other runs) and for spins (logical date 21:00: one hourly run), on the
    evening before SIM_NOW. Those are scheduled-style runs (no Params): each
    re-reads its cadence's lookback before its data interval (10 minutes for purchases, an hour for spins),
    while a Params backfill reads exactly its range. So the Params route over the *same source range* is
    purchases [21:35, 22:00) and spins [20:00, 22:00).

    In both routes `spins` is paused while purchases land, and the spins runs purchases trigger meanwhile
    (catch-ups of stale spins in the backfill route, the carried-over range in the Params route) are
    dropped, so each route's spins side is exactly the one spins run under test; purchases land up to
    22:00 first, so neither spins run finds purchases stale (no catch-up either).
    """
    settings = settings_of(stack)
    purchases_from = PURCHASES_FIRST - settings.purchases.lookback
    spins_from = SPINS_HOUR - settings.spins.lookback
    routes: dict[str, dict] = {}
    for route in ("airflow_backfill", "params"):
        empty_lake_and_warehouse(stack)
        before = {dag_id: run_ids(stack, dag_id) for dag_id in ("purchases", "spins")}
        stack.pause("spins")
        try:
            if route == "airflow_backfill":
                purchases = stack.backfill("purchases", PURCHASES_FIRST, PURCHASES_LAST, max_active_runs=3)
            else:
                conf = {"backfill_start": purchases_from.isoformat(), "backfill_end": ROUTE_END.isoformat()}
                purchases = [stack.trigger("purchases", conf=conf)]
            purchases_tasks = [wait_green(stack, "purchases", run_id) for run_id in purchases]
        finally:
            dropped = drop_queued(stack, "spins", before["spins"])
            stack.unpause("spins")
        if route == "airflow_backfill":
            spins = stack.backfill("spins", SPINS_HOUR, SPINS_HOUR, max_active_runs=1)
        else:
            conf = {"backfill_start": spins_from.isoformat(), "backfill_end": ROUTE_END.isoformat()}
            spins = [stack.trigger("spins", conf=conf)]
        spins_tasks = [wait_green(stack, "spins", run_id) for run_id in spins]
        routes[route] = {
            "purchases_runs": [stack.run("purchases", run_id) for run_id in purchases],
            "spins_runs": [stack.run("spins", run_id) for run_id in spins],
            "purchases_tasks": purchases_tasks,
            "spins_tasks": spins_tasks,
            "dropped_spins_runs": dropped,
            "other_runs": {
                dag_id: [r for r in new_runs(stack, dag_id, before[dag_id]) if r["dag_run_id"] not in kept]
                for dag_id, kept in (("purchases", purchases), ("spins", spins))
            },
            "tables": tables(settings),
        }
    return routes


def test_airflow_backfill_creates_scheduled_style_runs_of_both_dags(backfill_routes):
    backfill = backfill_routes["airflow_backfill"]
    intervals = [(r["data_interval_start"], r["data_interval_end"]) for r in backfill["purchases_runs"]]
    assert [(pd.Timestamp(s), pd.Timestamp(e)) for s, e in intervals] == [
        (
            pd.Timestamp(PURCHASES_FIRST) + timedelta(minutes=5 * i),
            pd.Timestamp(PURCHASES_FIRST) + timedelta(minutes=5 * (i + 1)),
        )
        for i in range(3)
    ]
    (spins,) = backfill["spins_runs"]
    assert (pd.Timestamp(spins["data_interval_start"]), pd.Timestamp(spins["data_interval_end"])) == (
        pd.Timestamp(SPINS_HOUR),
        pd.Timestamp(ROUTE_END),
    )
    for run in [*backfill["purchases_runs"], spins]:
        assert run["run_type"] == "backfill" and run["state"] == "success" and not run["conf"]
    # A backfill run is not a Params backfill: it checked spins freshness (stale: nothing landed yet),
    # and the catch-up it triggered carried the hourly range, not a carried-over backfill range. The three
    # runs overlap, so one or two trigger (one run id per hour: 21:00 and 22:00); once a catch-up is
    # queued the later ones leave spins alone.
    triggered = [tasks["trigger_spins"] for tasks in backfill["purchases_tasks"]]
    assert "success" in triggered and set(triggered) <= {"success", "skipped"}, triggered
    dropped = backfill["dropped_spins_runs"]
    assert len(dropped) == triggered.count("success") <= 2
    for run in dropped:
        assert run["dag_run_id"].startswith("purchases_catch_up__")
        assert run["conf"]["triggered_by"] == "purchases" and "never landed" in run["conf"]["trigger_reason"]
    assert backfill["spins_tasks"][0]["catch_up_purchases"] == "skipped"  # purchases landed up to 22:00
    assert backfill["other_runs"] == {"purchases": [], "spins": []}


def test_the_params_route_ran_one_backfill_run_of_each_dag(backfill_routes):
    params = backfill_routes["params"]
    (purchases,), (spins,) = params["purchases_runs"], params["spins_runs"]
    assert purchases["run_type"] == spins["run_type"] == "manual"
    assert purchases["conf"]["backfill_end"] == spins["conf"]["backfill_end"] == ROUTE_END.isoformat()
    (carried,) = params["dropped_spins_runs"]  # a Params backfill of purchases is carried over to spins
    assert carried["conf"]["backfill_start"] == purchases["conf"]["backfill_start"]
    assert params["spins_tasks"][0]["catch_up_purchases"] == "skipped"
    assert params["other_runs"] == {"purchases": [], "spins": []}


@pytest.mark.parametrize("table", [*BUSINESS_SILVER, *GOLD_TABLES])
def test_airflow_backfill_and_params_give_the_same_table(backfill_routes, table):
    """Silver is compared on its business columns: ``landed_window_end`` records which ingestion window
    first delivered a version, and legitimately differs by route (5-minute windows ending 21:50, 21:55,
    22:00 for the Airflow backfill; one Params window ending 22:00). Gold is compared whole."""
    backfill = backfill_routes["airflow_backfill"]["tables"][table]
    params = backfill_routes["params"]["tables"][table]
    assert len(backfill) > 10, f"{table} is nearly empty: the comparison would prove little"
    pd.testing.assert_frame_equal(backfill, params, obj=table)


# ------------------------------------------------------------ purchases cannot catch up: gold anyway


@pytest.fixture(scope="module")
def purchases_cannot_catch_up(stack):
    """`purchases` paused and nothing landed: a spins run at SIM_NOW finds purchases stale, triggers a
    catch-up (it queues behind the pause) and waits for it, deferred, for at most WAIT. Gold is built (or
    not) while purchases are still paused; then `purchases` is unpaused so the queued catch-up executes.
    Should the wait not give up within WAIT + GIVE_UP_MARGIN, purchases are unpaused anyway so that the
    spins run can finish (and the module can go on)."""
    empty_lake_and_warehouse(stack)
    before = {dag_id: run_ids(stack, dag_id) for dag_id in ("purchases", "spins")}
    stack.pause("purchases")
    try:
        run_id = stack.trigger("spins", logical_date=SIM_NOW)

        def catch_up() -> str | None:
            return task_state(stack, "spins", run_id, "catch_up_purchases")

        first_seen = stack.wait_until(
            lambda: (seen := catch_up()) in FINISHED_TASK | {"deferred"} and seen,
            RUN_TIMEOUT,
            what="catch_up_purchases deferring",
        )
        waiting_since = time.monotonic()
        state = first_seen
        # Deferred, then (once the timeout is noticed) scheduled again to fail: wait for a final state.
        while (
            state not in FINISHED_TASK
            and time.monotonic() - waiting_since < WAIT.total_seconds() + GIVE_UP_MARGIN
        ):
            time.sleep(1)
            state = catch_up()
        waited = time.monotonic() - waiting_since
        catch_up_runs_while_waiting = new_runs(stack, "purchases", before["purchases"])
        gave_up = state in FINISHED_TASK
        spins_state = stack.wait("spins", run_id, timeout=RUN_TIMEOUT) if gave_up else None
    finally:
        stack.unpause("purchases")
    catch_up_runs = new_runs(stack, "purchases", before["purchases"])
    for run in catch_up_runs:
        wait_green(stack, "purchases", run["dag_run_id"])
    if spins_state is None:
        spins_state = stack.wait("spins", run_id, timeout=RUN_TIMEOUT)
    settings = settings_of(stack)
    return {
        "first_seen": first_seen,
        "gave_up": gave_up,
        "catch_up_state": state,
        "waited": waited,
        "spins_run_id": run_id,
        "spins_state": spins_state,
        "spins_tasks": stack.task_states("spins", run_id),
        "catch_up_runs_while_waiting": catch_up_runs_while_waiting,
        "catch_up_runs": [stack.run("purchases", r["dag_run_id"]) for r in catch_up_runs],
        "catch_up_tasks": [stack.task_states("purchases", r["dag_run_id"]) for r in catch_up_runs],
        "spins_runs": new_runs(stack, "spins", before["spins"]),
        "gold_records": gold_records(settings),
        "gold_counts": gold_counts(settings),
    }


def test_stale_purchases_make_spins_trigger_a_catch_up_and_wait_for_it(purchases_cannot_catch_up):
    result = purchases_cannot_catch_up
    assert result["first_seen"] == "deferred"  # waiting in the triggerer, not holding a worker slot
    (run,) = result["catch_up_runs_while_waiting"]
    assert run["state"] == "queued"  # behind the pause: it cannot catch up


def test_the_catch_up_gives_up_after_its_timeout_and_gold_is_built_on_stale_purchases(
    purchases_cannot_catch_up,
):
    result = purchases_cannot_catch_up
    assert result["gave_up"], f"catch_up_purchases still deferred {result['waited']:.0f} s after deferring"
    # It failed on its timeout (the run it waited for was still queued, see above), not earlier.
    assert result["catch_up_state"] == "failed"
    assert result["waited"] >= WAIT.total_seconds() - 1
    assert result["spins_state"] == "success", result["spins_tasks"]
    tasks = result["spins_tasks"]
    assert tasks["build_gold"] == "success" and tasks["log_gold"] == "success"
    assert all(count > 0 for count in result["gold_counts"].values())
    (record,) = result["gold_records"]
    assert record["window_end"] == SIM_NOW.isoformat()
    assert record["built_on_stale_purchases"] is True and "never landed" in record["note"]


def test_the_catch_up_run_never_triggers_spins_back_and_nothing_deadlocks(purchases_cannot_catch_up):
    """The catch-up purchases run carries a backfill range, which a purchases run would normally carry
    over to spins; triggered by spins, it must not. Both runs finish: spins waited for purchases under
    max_active_runs=1 without either blocking the other."""
    result = purchases_cannot_catch_up
    (run,) = result["catch_up_runs"]
    assert run["run_type"] == "operator_triggered" and run["state"] == "success"
    assert run["conf"]["triggered_by"] == "spins" and "never landed" in run["conf"]["trigger_reason"]
    assert run["conf"]["backfill_start"] == (SIM_NOW - timedelta(hours=1)).isoformat()
    assert run["conf"]["backfill_end"] == SIM_NOW.isoformat()
    (tasks,) = result["catch_up_tasks"]
    assert tasks["check_spins_freshness"] == "success" and tasks["trigger_spins"] == "skipped"
    assert [r["dag_run_id"] for r in result["spins_runs"]] == [result["spins_run_id"]]
    assert result["spins_state"] == "success", result["spins_tasks"]
