"""What every Cadence DAG is built from: the start date, the shared DAG arguments and the trigger-form Params.

Nothing here does I/O or imports Airflow at module level; DAG files call :func:`dag_kwargs` at parse time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cadence.conf_schema import moment_param
from cadence.config import CadenceSettings, WorkbookSettings

START_DATE = datetime(2026, 1, 1, tzinfo=UTC)


def window_params() -> dict:
    """A cadence's trigger form: typed, described Params that Airflow validates before a run is created."""
    from airflow.sdk import Param

    return {
        "is_full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Rebuild the dbt models from the whole bronze lake instead of merging this window.",
        ),
        "backfill_start": moment_param(
            "Backfill start (UTC)",
            "Reprocess source changes from this time (inclusive). Leave empty for a normal run.",
        ),
        "backfill_end": moment_param(
            "Backfill end (UTC)",
            "Reprocess source changes up to this time (exclusive). Required with a start.",
        ),
        # triggered_by / trigger_reason are not Params: the other cadence sets them in the conf it triggers
        # with (Airflow merges undeclared conf keys into params), so the form does not offer them.
    }


def workbook_params() -> dict:
    """The workbook import's trigger form: the workbook's location and an optional range."""
    from airflow.sdk import Param

    return {
        "workbook": Param(
            type="string",
            minLength=1,
            title="Workbook",
            description=(
                "The .xlsx to import: a path in the lake (relative to its root, e.g. uploads/moc.xlsx) or an "
                "uploaded file's location (/abs/path.xlsx, file://…, gs://…). The gold CSV/xlsx and the Data "
                "Docs are written next to it."
            ),
        ),
        "range_start": moment_param(
            "Range start (UTC, optional)",
            "Import only rows from this hour on (inclusive). Empty: the workbook's own days.",
        ),
        "range_end": moment_param(
            "Range end (UTC, optional)",
            "Import only rows before this hour (exclusive). Required with a start.",
        ),
        "is_full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Rebuild silver and gold from the whole bronze lake instead of merging this range.",
        ),
    }


def dag_kwargs(
    run: CadenceSettings | WorkbookSettings, doc_md: str | None, tags: list[str], params: dict | None = None
) -> dict:
    """The arguments every Cadence DAG shares: one run at a time, the section's timeout and retries.

    A cadence (a section with a ``schedule``) runs on a data-interval timetable with the backfill form
    (:func:`window_params`); a manual DAG (the workbook import) has no schedule and brings its own ``params``.
    """
    from airflow.sdk import CronDataIntervalTimetable

    from cadence.monitoring import failure_alerts

    scheduled = isinstance(run, CadenceSettings)
    return {
        "schedule": CronDataIntervalTimetable(run.schedule, timezone="UTC") if scheduled else None,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": run.dagrun_timeout,
        "default_args": {
            "retries": run.retries,
            "retry_delay": run.retry_delay,
            "owner": "cadence",
            "on_failure_callback": failure_alerts.task_failed,  # once a task failed for good
        },
        # Notifies a timed-out run. Scheduled cadences only: a DAG callback builds its context from the
        # DAG's Params without the run's conf, which a required Param (the workbook's path) refuses.
        "on_failure_callback": failure_alerts.run_failed if scheduled else None,
        "params": params if params is not None else window_params(),
        "tags": ["cadence", *tags],
        "doc_md": doc_md,
        # Native rendering lets a templated conf stay a dict and a templated full_refresh stay a bool.
        "render_template_as_native_obj": True,
    }
