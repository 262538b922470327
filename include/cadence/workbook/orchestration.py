"""The ``workbook_import`` DAG's pieces: its arguments and trigger form, and its task bodies.

Nothing here does I/O or imports pandas/GX at module level: the DAG file imports it at parse time.
"""

from __future__ import annotations

from cadence.config import Settings
from cadence.orchestration import START_DATE

SELECT_SILVER = ["tag:purchases", "tag:spins"]
SELECT_GOLD = ["tag:gold"]


def params() -> dict:
    """The trigger form: the workbook's location and an optional range, validated before a run starts."""
    from airflow.sdk import Param

    from cadence.conf_schema import moment_param

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


def dag_kwargs(settings: Settings, doc_md: str | None) -> dict:
    """Manual only (no schedule), one run at a time, the shared retry and timeout policy."""
    from cadence.monitoring import failure_alerts

    workbook = settings.workbook
    return {
        "schedule": None,
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "dagrun_timeout": workbook.dagrun_timeout,
        "default_args": {
            "retries": workbook.retries,
            "retry_delay": workbook.retry_delay,
            "owner": "cadence",
            "on_failure_callback": failure_alerts.task_failed,
        },
        "on_failure_callback": failure_alerts.run_failed,
        "params": params(),
        "tags": ["cadence", "workbook", "manual", "gold"],
        "doc_md": doc_md,
        "render_template_as_native_obj": True,
    }


def land(context: dict) -> dict:
    """Read → validate → bronze/quarantine/run log/Data Docs; returns the dbt window and the counts.

    A workbook that cannot be imported fails the task without retries: the same file fails the same way.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from cadence.config import get_settings
    from cadence.workbook import WorkbookError
    from cadence.workbook.importer import import_workbook

    p = context["params"]
    try:
        result = import_workbook(
            get_settings(), p["workbook"], p.get("range_start"), p.get("range_end"), run_id=context["run_id"]
        )
    except WorkbookError as error:
        raise AirflowFailException(str(error)) from None
    return result.summary()


def export(context: dict) -> dict:
    """After gold: the gold rows of the landed range, as CSV and .xlsx next to the workbook."""
    from datetime import UTC, datetime

    from cadence.config import get_settings
    from cadence.lake import Window
    from cadence.workbook.export import export as write_exports
    from cadence.workbook.importer import DBT_TIME, resolve

    landed = context["ti"].xcom_pull(task_ids="land")
    if not landed:
        raise RuntimeError("task 'land' left no result: it did not complete")
    settings = get_settings()
    window = Window(
        *(datetime.strptime(landed[k], DBT_TIME).replace(tzinfo=UTC) for k in ("window_start", "window_end"))
    )
    return write_exports(settings, resolve(landed["workbook"], settings), window, landed["headers"])
