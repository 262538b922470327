"""Failure alerts for every Cadence DAG: a task that failed for good, and a run that timed out.

Airflow calls a task's ``on_failure_callback`` only once its retries are spent (a retry calls
``on_retry_callback``), and a DAG's ``on_failure_callback`` when the run fails — after a task failure,
which the task already reported, or when ``dagrun_timeout`` ends it (reason ``timed_out``), which kills its
tasks without their callbacks. So the task callback reports task failures and the DAG callback reports
only timeouts: each failure is notified once, through the monitoring notifier (log, Slack, e-mail).
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime

log = logging.getLogger(__name__)

TIMED_OUT = "timed_out"


def _moment(value) -> str:
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M} UTC"
    return str(value)


def describe_window(context) -> str:
    """The window the run processes: the backfill range of its conf, else its data interval."""
    params = context.get("params") or {}
    if params.get("backfill_start") or params.get("backfill_end"):
        return f"{params.get('backfill_start')} to {params.get('backfill_end')} (backfill)"
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None:
        return "no data interval (manual run: the latest complete interval)"
    return f"{_moment(start)} to {_moment(end)}"


def last_error_line(exception: BaseException | None) -> str:
    """The line a task log ends its traceback with: ``ExceptionType: message``."""
    if exception is None:
        return "(no exception: see the task log)"
    if isinstance(exception, str):
        return exception.strip().splitlines()[-1] if exception.strip() else "(empty error)"
    lines = traceback.format_exception_only(type(exception), exception)
    return "".join(lines).strip().splitlines()[-1]


def _notify(title: str, message: str, context) -> list[str]:
    from cadence.config import get_settings
    from cadence.monitoring.notifier import CadenceNotifier

    monitoring = get_settings().monitoring
    notifier = CadenceNotifier(
        title=title,
        message=message,
        severity="error",
        slack_conn_id=monitoring.slack_conn_id,
        smtp_conn_id=monitoring.smtp_conn_id,
        email_to=monitoring.email_to,
    )
    return notifier.notify(context)


def task_failed(context) -> list[str]:
    """``on_failure_callback`` of every task: it failed after its last try."""
    ti = context["ti"]
    dag_id, run_id = ti.dag_id, context.get("run_id") or ti.run_id
    task = ti.task_id if getattr(ti, "map_index", -1) in (-1, None) else f"{ti.task_id}[{ti.map_index}]"
    error = last_error_line(context.get("exception"))
    title = f"{dag_id}: task {task} failed"
    message = (
        f"DAG: {dag_id}\nrun: {run_id}\ntask: {task} (try {getattr(ti, 'try_number', '?')})\n"
        f"window: {describe_window(context)}\nerror: {error}"
    )
    return _notify(title, message, context)


def run_failed(context) -> list[str]:
    """``on_failure_callback`` of every DAG: notifies a timed-out run (task failures notify themselves)."""
    if context.get("reason") != TIMED_OUT:
        reason = context.get("reason")
        log.info("run %s failed (%s): its failed task notified", context.get("run_id"), reason)
        return []
    dag = context["dag"]
    run_id = context.get("run_id")
    ti = context.get("ti")
    task = ti.task_id if ti is not None else "(none recorded)"
    title = f"{dag.dag_id}: run {run_id} timed out"
    message = (
        f"DAG: {dag.dag_id}\nrun: {run_id}\ntask: {task} (unfinished when the run timed out)\n"
        f"window: {describe_window(context)}\n"
        f"error: the run exceeded its dagrun_timeout of {dag.dagrun_timeout}; its unfinished tasks were "
        "stopped (skipped)"
    )
    return _notify(title, message, context)
