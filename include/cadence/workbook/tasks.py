"""The ``workbook_import`` DAG's task bodies and what it builds; its arguments come from
:mod:`cadence.dag_defaults` like every DAG's.

Nothing here does I/O or imports pandas/GX at module level: the DAG file imports it at parse time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SELECT_SILVER = ["tag:purchases", "tag:spins"]
SELECT_GOLD = ["tag:gold"]


def land(params: Mapping[str, Any], run_id: str | None) -> dict:
    """Read → validate → bronze/quarantine/run log/Data Docs; returns the dbt window and the counts.

    A workbook that cannot be imported fails the task without retries: the same file fails the same way.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from cadence.config import get_settings
    from cadence.workbook import WorkbookError
    from cadence.workbook.importer import import_workbook

    try:
        result = import_workbook(
            get_settings(),
            params["workbook"],
            params.get("range_start"),
            params.get("range_end"),
            run_id=run_id,
        )
    except WorkbookError as error:
        raise AirflowFailException(str(error)) from None
    return result.summary()


def export(landed: dict | None) -> dict:
    """After gold: the gold rows of the landed range, as CSV and .xlsx next to the workbook."""
    from cadence.config import get_settings
    from cadence.planning import window_from_vars
    from cadence.workbook.export import export as write_exports
    from cadence.workbook.importer import resolve

    if not landed:
        raise RuntimeError("the land task left no result: it did not complete")
    settings = get_settings()
    window = window_from_vars(landed)
    return write_exports(settings, resolve(landed["workbook"], settings), window, landed["headers"])
