"""Cadence's own operators (only where a provided one does not do what a DAG needs)."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.triggers.external_task import DagStateTrigger
from airflow.sdk import BaseOperator


class WaitForTriggeredRun(BaseOperator):
    """Deferred wait, bounded by ``timeout``, for the run ``triggered_run_id`` of ``triggered_dag_id``
    (templated: pass the triggering task's ``trigger_run_id`` XComArg).

    TriggerDagRunOperator(wait_for_completion=True, deferrable=True) defers without a timeout, and Airflow
    3.3 does not bound a deferred task by its execution_timeout, so it would wait until the dagrun_timeout.
    Deferring here with an explicit timeout gives up on time. Never retried: a retry after giving up would
    only wait again.
    """

    template_fields = ("triggered_run_id",)

    def __init__(
        self,
        *,
        triggered_run_id,
        triggered_dag_id: str,
        timeout: timedelta,
        poke_interval: timedelta,
        **kwargs,
    ):
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.triggered_run_id = triggered_run_id
        self.dag_id_to_wait = triggered_dag_id
        self.wait_timeout = timeout
        self.poke_interval = poke_interval

    def execute(self, context):
        if not self.triggered_run_id:
            raise RuntimeError(f"no triggered {self.dag_id_to_wait} run id to wait for")
        self.defer(
            trigger=DagStateTrigger(
                dag_id=self.dag_id_to_wait,
                states=["success", "failed"],
                run_ids=[self.triggered_run_id],
                poll_interval=self.poke_interval.total_seconds(),
            ),
            method_name="execute_complete",
            timeout=self.wait_timeout,
        )

    def execute_complete(self, context, event):
        _, data = event
        states = {run_id: data.get(run_id) for run_id in data["run_ids"]}
        if set(states.values()) != {"success"}:
            raise RuntimeError(f"the {self.dag_id_to_wait} catch-up run did not succeed: {states}")
        return states
