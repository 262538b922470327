"""What one run processes: the trigger conf and the data interval turned into a window, or refused.

Pure Python on typed inputs (the run's Params, its interval, the cadence's settings). The bridges from
Airflow are :meth:`RunContext.current`, which a task body calls to hand the run's facts over as a value, and
:class:`RunConfError`, an ``AirflowFailException`` so that bad conf fails the first task without retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cadence.config import CadenceSettings, Settings
from cadence.lake import Window

DBT_TIME = "%Y-%m-%d %H:%M:%S"  # how dbt vars carry a moment (the window bounds)


def _fail_exception() -> type[Exception]:
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException


class RunConfError(_fail_exception(), ValueError):
    """The trigger conf cannot be run; the message says which value is wrong and why.

    An ``AirflowFailException``: the run's first task fails at once, without retries (the same conf fails
    the same way), so a bad run does not hold the one active-run slot.
    """


@dataclass(frozen=True)
class RunPlan:
    """What one DAG run processes: its window, whether it is a backfill, and how far to look back."""

    window: Window
    is_backfill: bool
    is_full_refresh: bool
    lookback: timedelta

    def dbt_vars(self) -> dict[str, str]:
        return window_vars(self.window)


def window_vars(window: Window) -> dict[str, str]:
    """The dbt vars of a window (``window_start``/``window_end``), as every model reads them."""
    return {"window_start": f"{window.start:{DBT_TIME}}", "window_end": f"{window.end:{DBT_TIME}}"}


def window_from_vars(dbt_vars: dict) -> Window:
    """The window a task handed over as dbt vars (the inverse of :func:`window_vars`)."""
    start, end = (
        datetime.strptime(dbt_vars[k], DBT_TIME).replace(tzinfo=UTC) for k in ("window_start", "window_end")
    )
    return Window(start, end)


def plain_utc(moment: datetime) -> datetime:
    """A stdlib UTC datetime (Airflow and croniter hand out pendulum/local ones, which do not mix with
    stdlib arithmetic)."""
    return datetime.fromtimestamp(moment.timestamp(), UTC)


def parse_moment(name: str, value: Any, error: type[Exception] = RunConfError) -> datetime:
    """``value`` (a datetime or ISO-8601 text, ``Z`` allowed) as an aware UTC datetime; naive means UTC.

    Raises ``error`` naming ``name`` when the text is not a date-time.
    """
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise error(
                f"{name} {value!r} is not an ISO-8601 date-time such as 2026-03-01T00:00:00Z"
            ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def cli_moment(value: str) -> datetime:
    """An argparse ``type`` for a UTC date-time option of the CLIs (naive means UTC)."""
    import argparse

    return parse_moment("date-time", value, argparse.ArgumentTypeError)


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
        window = Window(plain_utc(data_interval_start), plain_utc(data_interval_end))
        return RunPlan(window, is_backfill=False, is_full_refresh=full_refresh, lookback=cadence.lookback)
    if not (start and end):
        missing = "backfill_end" if start else "backfill_start"
        raise RunConfError(f"a backfill needs both backfill_start and backfill_end; {missing} is empty")
    start_at, end_at = parse_moment("backfill_start", start), parse_moment("backfill_end", end)
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


def latest_interval(cadence: CadenceSettings, moment: datetime) -> tuple[datetime, datetime]:
    """The cadence's latest complete interval ending at or before ``moment``."""
    from croniter import croniter

    end = croniter(cadence.schedule, moment + timedelta(microseconds=1)).get_prev(datetime)
    return croniter(cadence.schedule, end).get_prev(datetime), end


def run_interval(
    cadence: CadenceSettings,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime,
) -> tuple[datetime, datetime]:
    """The run's data interval; a manual run without a logical date (Airflow 3) has none, so it gets the
    latest complete interval of the cadence before it was triggered (``run_after``)."""
    if data_interval_start is not None:
        return data_interval_start, data_interval_end  # type: ignore[return-value]
    return latest_interval(cadence, plain_utc(run_after))


@dataclass(frozen=True)
class RunContext:
    """What a task body needs to know about its DAG run, typed: built once at the task boundary."""

    run_id: str
    params: Mapping[str, Any]
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    started_at: datetime | None = None  # when the run started (None before it has)

    @classmethod
    def current(cls) -> RunContext:
        """The run of the task executing now (``airflow.sdk.get_current_context``)."""
        from airflow.sdk import get_current_context

        context = get_current_context()
        dag_run = context["dag_run"]
        return cls(
            run_id=context["run_id"],
            params=context["params"],
            # absent (KeyError) or None on a manual run without a logical date
            data_interval_start=context.get("data_interval_start"),
            data_interval_end=context.get("data_interval_end"),
            run_after=dag_run.run_after,
            started_at=getattr(dag_run, "start_date", None),
        )

    def interval(self, cadence: CadenceSettings) -> tuple[datetime, datetime]:
        return run_interval(cadence, self.data_interval_start, self.data_interval_end, self.run_after)

    def plan(self, cadence: CadenceSettings, settings: Settings, now: datetime | None = None) -> RunPlan:
        """This run's :class:`RunPlan` (raises :class:`RunConfError` on conf that cannot be run)."""
        return plan_run(self.params, *self.interval(cadence), cadence, settings, now)
