"""The first start of `make up`: land and model the seeded history, so the product shows at once.

`make up` seeds ``simulator.seed_days`` of history into the source, but the cadences only process their
latest intervals (``catchup=False``). On the first start it triggers the ``first_run`` DAG once, which
backfills the seeded range in the order the data needs, each run marked ``triggered_by: first_run`` so no
cadence triggers another on its own:

1. ``purchases`` in chunks of ``purchases_chunk`` (one run each, one after the other: a run must fit its
   8-minute ``dagrun_timeout``), and, beside them, ``mmp`` over the whole range;
2. one normal ``purchases`` run, which catches up from the range's end to now (the scheduled runs skipped
   meanwhile, see below), so that pipeline health finds purchases fresh;
3. ``spins`` over the whole range once purchases silver is complete, so gold is built on all of it;
4. ``daily_kpis`` over the whole seeded days (KPIs, anomaly verdicts, pipeline health, dashboard, dbt docs).

`make up` triggers it before it starts the scheduler, with a ``run_after`` in the past, so it runs before
the scheduled runs (the scheduler starts queued runs oldest ``run_after`` first); a marker file in the
Airflow home makes it happen once. While it is running, the cadences' own runs skip
(:func:`yields_to_first_run`): they would only take turns with it on the warehouse's one slot, and the next
run after it catches up by construction (cadence.catch_up; telemetry by its ledger).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

MARKER = "first-run.json"
DAG_ID = "first_run"
TRIGGERED_BY = "first_run"
# Running only: a queued run of a paused first_run would otherwise hold every cadence back indefinitely.
ACTIVE_STATES = ("running",)


def _iso(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%SZ}"


def seeded_range(seed_days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """From midnight ``seed_days`` before the last full hour up to that hour. The history starts on a day
    boundary: a first day holding only its last hours of players would read, in the KPIs, as a jump of
    DAU and revenue the day after, and fail the anomaly check."""
    end = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return (end - timedelta(days=seed_days)).replace(hour=0), end


def plan(start: datetime, end: datetime, purchases_chunk: timedelta) -> dict:
    """The conf of every run the ``first_run`` DAG triggers, and their run ids."""
    reason = f"first start of make up: history {_iso(start)} .. {_iso(end)}"

    def conf(low: datetime, high: datetime) -> dict:
        return {
            "backfill_start": _iso(low),
            "backfill_end": _iso(high),
            "triggered_by": TRIGGERED_BY,
            "trigger_reason": reason,
        }

    chunks = []
    low = start
    while low < end:
        high = min(low + purchases_chunk, end)
        chunks.append({"conf": conf(low, high), "trigger_run_id": f"first_run__purchases__{_iso(low)}"})
        low = high
    # KPIs over the whole days of the range (a partial first day would fail the anomaly check, see
    # seeded_range); less than one whole day: the day it starts in.
    first_midnight = start.replace(hour=0)
    day_start = first_midnight if first_midnight == start else first_midnight + timedelta(days=1)
    day_end = end.replace(hour=0)
    if day_end <= day_start:
        day_start, day_end = first_midnight, first_midnight + timedelta(days=1)
    catch_up = {"triggered_by": TRIGGERED_BY, "trigger_reason": f"{reason}: catch up to now"}
    return {
        "purchases": chunks,
        "purchases_catch_up": catch_up,
        "mmp": conf(start, end),
        "spins": conf(start, end),
        "daily_kpis": conf(day_start, day_end),
    }


def plan_for_run(params: dict) -> dict:
    """The ``first_run`` DAG's plan task: the range from its conf (or the seeded days before now)."""
    from cadence.config import get_settings
    from cadence.planning import RunConfError, parse_moment

    settings = get_settings()
    if params.get("backfill_start") and params.get("backfill_end"):
        start = parse_moment("backfill_start", params["backfill_start"])
        end = parse_moment("backfill_end", params["backfill_end"])
    else:
        start, end = seeded_range(settings.simulator.seed_days)
    if end <= start:
        raise RunConfError(f"backfill_end {_iso(end)} is not after backfill_start {_iso(start)}")
    return plan(start, end, timedelta(hours=int(params.get("purchases_chunk_hours") or 6)))


def yields_to_first_run(params: Mapping, active_first_runs: Callable[[], int]) -> bool:
    """Whether a cadence's run skips (its first task short-circuits everything after it): a run that is
    neither part of the first run nor a backfill nor a full refresh, while a ``first_run`` run is active.

    ``active_first_runs`` counts the running ``first_run`` runs (``ti.get_dr_count``); it is
    asked only for a run that could yield."""
    if (
        params.get("triggered_by") == TRIGGERED_BY
        or params.get("backfill_start")
        or params.get("is_full_refresh")
    ):
        return False
    return active_first_runs() > 0


def first_task_yields(params: Mapping, ti) -> bool:
    """:func:`yields_to_first_run` for the task instance ``ti`` of a cadence's first task, logged."""
    import logging

    if not yields_to_first_run(params, lambda: ti.get_dr_count(DAG_ID, states=list(ACTIVE_STATES))):
        return False
    logging.getLogger(__name__).info(
        "skipped: the %s backfill is running; the next run after it catches up on this one's data", DAG_ID
    )
    return True


def trigger(url: str, username: str, password: str, seed_days: int, timeout: float = 180) -> str:
    """Trigger the ``first_run`` DAG (waiting for it to be parsed); returns a line for the terminal."""
    import httpx

    start, end = seeded_range(seed_days)
    token = httpx.post(
        f"{url}/auth/token", json={"username": username, "password": password}, timeout=10, trust_env=False
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=f"{url}/api/v2", headers=headers, timeout=30, trust_env=False) as api:
        deadline = time.monotonic() + timeout
        while api.get(f"/dags/{DAG_ID}").status_code != 200:
            if time.monotonic() > deadline:
                return f"{DAG_ID} was not parsed in time: trigger it from the UI"
            time.sleep(2)
        body = {
            "dag_run_id": DAG_ID,
            "logical_date": None,
            "run_after": _iso(start),  # queued runs start oldest run_after first: before the scheduled ones
            "conf": {"backfill_start": _iso(start), "backfill_end": _iso(end)},
            "note": "First start of `make up`: backfill of the seeded history",
        }
        response = api.post(f"/dags/{DAG_ID}/dagRuns", json=body)
        if response.status_code not in (200, 409):  # 409: triggered by an earlier start
            return f"{DAG_ID}: trigger failed ({response.status_code}): {response.text}"
    return f"{DAG_ID} run: {_iso(start)} .. {_iso(end)}"


def already_done(home: Path) -> bool:
    return (home / MARKER).exists()


def mark_done(home: Path, line: str) -> None:
    (home / MARKER).write_text(json.dumps({"triggered": line, "at": _iso(datetime.now(UTC))}))
