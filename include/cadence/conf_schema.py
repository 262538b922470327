"""What the trigger form's JSON schema can refuse before a run exists.

Airflow validates a run's conf against the DAG's Params when the run is created (REST API, UI form,
TriggerDagRunOperator) and answers HTTP 400 with the message. Its validator does not check ``format``
(``date-time`` only picks the form's date picker), so a date-time Param also carries a ``pattern``: an
ISO-8601 date or date-time with a real month, day, hour and minute. What a schema cannot say (end after
start, the range limit, an end in the future) is :func:`cadence.planning.plan_run`'s, in the run's
first task.
"""

from __future__ import annotations

#: ``2026-03-01``, ``2026-03-01T00:00``, ``2026-03-01 00:00:00.5Z``, ``2026-03-01T00:00:00+01:00`` — what
#: :func:`datetime.fromisoformat` reads and the form's ``datetime-local`` picker sends.
ISO_DATETIME_PATTERN = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?)?$"
)


def moment_param(title: str, description: str):
    """An optional UTC date-time Param: empty, or a string matching :data:`ISO_DATETIME_PATTERN`."""
    from airflow.sdk import Param

    return Param(
        None,
        type=["null", "string"],
        format="date-time",
        pattern=ISO_DATETIME_PATTERN,
        title=title,
        description=f"{description} ISO-8601, e.g. 2026-03-01T00:00:00Z.",
    )
