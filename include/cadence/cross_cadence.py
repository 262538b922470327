"""The rules between the two cadences: when `purchases` triggers `spins`, when `spins` waits for purchases
before gold, and what gold records about it.

Task bodies hand over typed values (the landed window's dbt vars, the run's Params and id); freshness
is judged on bronze at the *window end*, so a replay decides the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cadence import freshness
from cadence.config import Settings
from cadence.planning import window_from_vars
from cadence.runlog import RunRecord

log = logging.getLogger(__name__)


def _landed_window(landed: dict | None):
    if not landed:
        raise RuntimeError("the land task left no window: it did not complete")
    return window_from_vars(landed)


def spins_trigger(
    settings: Settings,
    landed: dict,
    params: Mapping[str, Any],
    run_id: str,
    active_spins_runs: Callable[[], int],
) -> dict | None:
    """After purchases silver: how to trigger `spins` (``conf`` and ``run_id``), or None to leave it alone.

    A purchases backfill or full refresh carries its range over (gold must follow silver there). A
    scheduled run triggers spins only when bronze spins are stale, with the range that closes the gap, and
    at most once per spins interval: the run id names the hour, and nothing is triggered while a spins run
    is queued or running (``active_spins_runs()``: it lands what there is). A run that was itself
    triggered never triggers back.
    """
    if params.get(freshness.TRIGGERED_BY):
        return None
    window = _landed_window(landed)
    if params.get("is_full_refresh") or params.get("backfill_start"):
        kind = "full refresh" if params.get("is_full_refresh") else "backfill"
        span = f"{window.start:%Y-%m-%d %H:%M}-{window.end:%Y-%m-%d %H:%M} UTC"
        reason = f"purchases {kind} of {span} changed silver"
        conf = freshness.carried_conf("purchases", params, reason)
        return {"conf": conf, "run_id": f"purchases_{kind.replace(' ', '_')}__{run_id}"}
    spins = freshness.check(settings, "spins_hourly", window.end, settings.spins.freshness_limit)
    log.info(spins.describe())
    if not spins.is_stale:
        return None
    if active := active_spins_runs():
        log.info("%d spins run(s) already queued or running: not triggering another", active)
        return None
    conf = freshness.catch_up_conf(
        "purchases", spins, window.end - settings.spins.backfill_chunk, settings.max_backfill, hourly=True
    )
    if conf is None:
        return None
    return {"conf": conf, "run_id": f"purchases_catch_up__{conf['backfill_end']}"}


@dataclass(frozen=True)
class PurchasesGate:
    """Before gold: what bronze purchases look like, and the catch-up conf when `purchases` must run first."""

    freshness: str  # the freshness verdict, for the task log and the run log
    catch_up: dict | None  # conf of the purchases run to trigger and wait for; None: build gold now


def purchases_gate(settings: Settings, landed: dict, params: Mapping[str, Any]) -> PurchasesGate:
    """Catch purchases up first when their bronze is stale (and this run was not itself triggered)."""
    window = _landed_window(landed)
    purchases = freshness.check(settings, "purchases", window.end, settings.purchases.freshness_limit)
    description = purchases.describe()
    log.info(description)
    if not purchases.is_stale or params.get(freshness.TRIGGERED_BY):
        return PurchasesGate(description, None)
    conf = freshness.catch_up_conf("spins", purchases, window.start, settings.max_backfill, hourly=False)
    return PurchasesGate(description, conf)


def gold_inputs(settings: Settings, landed: dict, gate_verdict: str | None) -> dict:
    """Whether gold is about to be built on fresh purchases (checked again after any catch-up wait).

    ``gate_verdict`` is the freshness the gate logged; None means it never ran (silver failed), and gold
    is not built.
    """
    if gate_verdict is None:
        raise RuntimeError("the freshness check did not run (silver failed): gold is not built")
    window = _landed_window(landed)
    purchases = freshness.check(settings, "purchases", window.end, settings.purchases.freshness_limit)
    return {"purchases_stale": purchases.is_stale, "purchases_freshness": purchases.describe()}


def record_gold(settings: Settings, landed: dict, inputs: dict, run_id: str, states: list[str]) -> dict:
    """One run-log record for the gold build of this window, saying whether purchases were stale; a failed
    gold build is recorded as failed and fails the task (``states``: the gold task group's)."""
    from cadence import catch_up

    if catch_up.group_outcome(states) != catch_up.SUCCESS:
        return catch_up.record_dbt_group(settings, "spins_hourly", "gold", landed, states, run_id)
    window = _landed_window(landed)
    record = RunRecord(
        "gold",
        window.start,
        window.end,
        status="success",
        run_id=run_id,
        details={
            "built_on_stale_purchases": inputs["purchases_stale"],
            "note": inputs["purchases_freshness"],
        },
    )
    written = record.write(settings)
    catch_up.supersede(settings, "gold", window, run_id)
    return written
