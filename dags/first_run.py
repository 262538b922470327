"""
### first_run — the seeded history, landed and modelled once (`make up` triggers it on the first start)

Backfills a range (by default the simulator's seeded days) in the order the data needs: `purchases` in
chunks that each fit its timeout, one after the other, with `mmp` beside them; one normal `purchases` run
that catches up to now (the cadences' own runs skip while this DAG runs); then `spins` over the whole
range, so gold is built on complete purchases; then `daily_kpis` over its days (KPIs, anomaly verdicts,
pipeline health, the dashboard snapshot, the dbt docs). Every run it triggers carries
`triggered_by: first_run`, so no cadence triggers another on its own meanwhile.
"""

from datetime import timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, task
from cadence.conf_schema import moment_param
from cadence.dag_defaults import START_DATE
from cadence.monitoring import failure_alerts


def _wait_for(dag_id: str, **kwargs):
    """Trigger ``dag_id`` and wait for its run (deferred: no worker slot while it waits); the task is named
    after the DAG unless ``task_id`` says otherwise."""
    return dict(
        task_id=kwargs.pop("task_id", dag_id),
        trigger_dag_id=dag_id,
        wait_for_completion=True,
        deferrable=True,
        poke_interval=15,
        allowed_states=["success"],
        failed_states=["failed"],
        reset_dag_run=True,  # a retry clears the failed run and runs it again
        **kwargs,
    )


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=3),
    tags=["cadence", "first-run", "manual"],
    doc_md=__doc__,
    default_args={
        "owner": "cadence",
        "retries": 1,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": failure_alerts.task_failed,
    },
    on_failure_callback=failure_alerts.run_failed,
    params={
        "backfill_start": moment_param("History start (UTC)", "Empty: the seeded days before now."),
        "backfill_end": moment_param("History end (UTC)", "Empty: the last full hour."),
        "purchases_chunk_hours": Param(
            6, type="integer", minimum=1, maximum=24, title="Hours per purchases run"
        ),
    },
)
def first_run():
    @task(multiple_outputs=True)
    def plan(**context) -> dict:
        """The conf of every run below."""
        from cadence.first_run import plan_for_run

        return plan_for_run(context["params"])

    @task
    def purchases_runs(**context) -> list[dict]:
        """One purchases run per chunk (conf and run id), in time order."""
        from cadence.first_run import plan_for_run

        return plan_for_run(context["params"])["purchases"]

    planned = plan()
    chunks = TriggerDagRunOperator.partial(**_wait_for("purchases"), max_active_tis_per_dagrun=1)
    purchases = chunks.expand_kwargs(purchases_runs())  # one after the other
    catch_up = TriggerDagRunOperator(
        **_wait_for("purchases", task_id="purchases_catch_up"),
        conf=planned["purchases_catch_up"],
        trigger_run_id="first_run__purchases__catch_up",
    )
    mmp = TriggerDagRunOperator(**_wait_for("mmp"), conf=planned["mmp"], trigger_run_id="first_run__mmp")
    spins = TriggerDagRunOperator(
        **_wait_for("spins"), conf=planned["spins"], trigger_run_id="first_run__spins"
    )
    kpis = TriggerDagRunOperator(
        **_wait_for("daily_kpis"), conf=planned["daily_kpis"], trigger_run_id="first_run__daily_kpis"
    )
    planned >> mmp
    purchases >> catch_up >> spins >> kpis


first_run()
