"""
### workbook_import — manual

Imports a MOC-style Excel workbook (sheets `Spins Hourly` and `Purchases`, as the game team hands data
over) for its range: reads it (python-calamine), validates every row with Great Expectations (valid rows →
bronze, invalid rows → quarantine with the broken rules; non-integer spin counts are a warning), writes the
Data Docs next to the workbook, then builds silver and gold for that range through the same dbt models as
the cadences, and exports the gold rows next to the workbook as `<name>_gold.csv` and `<name>_gold.xlsx`
(the `Spins Hourly` sheet filled in).

**Trigger** with `workbook` = a path in the lake (`uploads/moc.xlsx`) or an uploaded file's location;
optionally `range_start` / `range_end` (UTC, whole hours; default: the workbook's own days). A file that
is not a workbook, lacks a sheet or column, is empty, password-protected or truncated fails the run with
the reason and changes nothing. Semantics: README.md, "Workbook import".
"""

from airflow.sdk import dag, task
from cadence.config import get_settings
from cadence.dag_defaults import dag_kwargs, workbook_params
from cadence.dbt_group import dbt_task_group
from cadence.warehouse import warehouse_pool
from cadence.workbook.tasks import SELECT_GOLD, SELECT_SILVER

settings = get_settings()


@dag(**dag_kwargs(settings.workbook, __doc__, ["workbook", "manual", "gold"], params=workbook_params()))
def workbook_import():
    @task
    def land(params=None, run_id=None) -> dict:
        """Read → validate → bronze/quarantine → run log and Data Docs, for the workbook's range."""
        from cadence.workbook.tasks import land as land_workbook

        return land_workbook(params, run_id)

    @task(pool=warehouse_pool(settings))
    def export(landed: dict) -> dict:
        """The range's gold rows as CSV and a filled-in .xlsx next to the workbook."""
        from cadence.workbook.tasks import export as export_gold

        return export_gold(landed)

    landed = land()
    silver = dbt_task_group(settings, "silver", select=SELECT_SILVER, window=landed)
    gold = dbt_task_group(settings, "gold", select=SELECT_GOLD, window=landed)
    landed >> silver >> gold >> export(landed)


workbook_import()
