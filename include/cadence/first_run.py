"""The first start of `make up`: land and model the seeded history, so the product shows at once.

`make up` seeds ``simulator.seed_days`` of history into the source, but the cadences only process their
latest intervals (``catchup=False``). On the first start this triggers, through the REST API, one backfill
run per cadence over the seeded range: ``purchases`` (which carries its range over to ``spins``, so gold
follows), ``mmp`` (the marketing marts) and ``daily_kpis`` (KPIs, anomaly verdicts and pipeline health;
it waits until gold covers its days). A marker file in the Airflow home makes it happen once. `make up`
triggers them before it starts the scheduler, with a ``run_after`` in the past, so they run before the
scheduled runs of the latest intervals (the scheduler starts queued runs oldest ``run_after`` first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

MARKER = "first-run-backfills.json"
DAGS = ("purchases", "mmp", "daily_kpis")


@dataclass(frozen=True)
class Backfill:
    dag_id: str
    run_id: str
    conf: dict


def plan(seed_days: int, now: datetime | None = None) -> list[Backfill]:
    """One run per cadence over the seeded range (whole hours; whole days for daily_kpis)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=seed_days)
    day_end = end.replace(hour=0)
    day_start = day_end - timedelta(days=seed_days)
    ranges = {"purchases": (start, end), "mmp": (start, end), "daily_kpis": (day_start, day_end)}
    return [
        Backfill(
            dag_id,
            f"first_run__{dag_id}",
            {"backfill_start": f"{low:%Y-%m-%dT%H:%M:%SZ}", "backfill_end": f"{high:%Y-%m-%dT%H:%M:%SZ}"},
        )
        for dag_id, (low, high) in ranges.items()
        if high > low
    ]


def trigger(
    url: str, username: str, password: str, backfills: list[Backfill], timeout: float = 180
) -> list[str]:
    """Trigger the runs (waiting for each DAG to be parsed); returns a line per run for the terminal."""
    import httpx

    token = httpx.post(
        f"{url}/auth/token", json={"username": username, "password": password}, timeout=10, trust_env=False
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    lines = []
    with httpx.Client(base_url=f"{url}/api/v2", headers=headers, timeout=30, trust_env=False) as api:
        deadline = time.monotonic() + timeout
        for backfill in backfills:
            while api.get(f"/dags/{backfill.dag_id}").status_code != 200:
                if time.monotonic() > deadline:
                    lines.append(f"{backfill.dag_id}: not parsed in time; trigger it from the UI")
                    break
                time.sleep(2)
            else:
                body = {
                    "dag_run_id": backfill.run_id,
                    "logical_date": None,
                    # Queued runs start oldest run_after first: these go before the scheduled runs.
                    "run_after": backfill.conf["backfill_start"],
                    "conf": backfill.conf,
                    "note": "First start of `make up`: backfill of the seeded history",
                }
                response = api.post(f"/dags/{backfill.dag_id}/dagRuns", json=body)
                if response.status_code not in (200, 409):  # 409: triggered by an earlier start
                    failed = f"trigger failed ({response.status_code}): {response.text}"
                    lines.append(f"{backfill.dag_id}: {failed}")
                    continue
                conf = backfill.conf
                lines.append(f"{backfill.dag_id:<11} {conf['backfill_start']} .. {conf['backfill_end']}")
    return lines


def already_done(home: Path) -> bool:
    return (home / MARKER).exists()


def mark_done(home: Path, backfills: list[Backfill]) -> None:
    import json

    (home / MARKER).write_text(json.dumps([b.__dict__ for b in backfills], indent=1))
