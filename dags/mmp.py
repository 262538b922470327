"""
### mmp — hourly (configurable): synthetic MMP events → marketing marts

Generates the mobile-measurement-partner events (impressions, clicks, attributed and organic installs,
reinstalls) of the data interval, validates them with Great Expectations (valid events → `mmp/events`
JSONL in the lake, invalid ones → quarantine with the broken rule), records one run-log row per window (job
`mmp`), then builds the dbt `mmp` models: typed, deduplicated staging → period totals at day / ISO week /
month grains (only the periods the window touched) → installs, CTR and CPI marts, and the reconciliation of
MMP installs (attributed + organic) against first-seen game players, per partner and per day with its
tolerance and the users behind each difference.

**Backfill:** `backfill_start` / `backfill_end` (UTC) land every schedule interval of that range (the same
files the schedule writes) and recompute the periods they touch; `is_full_refresh` rebuilds the models from
the whole lake.
"""

from airflow.sdk import dag, task
from cadence.config import get_settings
from cadence.dag_defaults import dag_kwargs
from cadence.dbt_group import dbt_task_group

settings = get_settings()


@dag(**dag_kwargs(settings.mmp_cadence, __doc__, tags=["mmp", "marketing"]))
def mmp():
    @task.short_circuit
    def land(ti=None) -> dict | None:
        """Generate → validate → lake/quarantine → run log, for every window of this run (skips everything
        after it while the first-run backfill runs)."""
        from cadence.first_run import first_task_yields
        from cadence.mmp.pipeline import land_for_run
        from cadence.planning import RunContext

        run = RunContext.current()
        return None if first_task_yields(run.params, ti) else land_for_run(run)

    landed = land()
    landed >> dbt_task_group(settings, "marts", select=["path:models/mmp"], window=landed)


mmp()
