"""``cadence-monitor``: validate the KPI rules, run a monitor, or render its SQL (--dry-run).

cadence-monitor rules                             # validate the rules, print what dbt gets
cadence-monitor kpis --day 2026-03-05 --dry-run   # the anomaly SQL for that day, not run
cadence-monitor kpis --day 2026-03-05             # run it, report; exit 1 on an error alert
cadence-monitor health                             # pipeline health now (or --at a time)

A real run needs kpis.daily_kpis (built by the daily_kpis DAG) and, locally, the DuckDB file free (it
waits for no pool: run it while the stack is down, or use --dry-run). Exit codes: 0 nothing or only
warnings, 1 an error-severity alert, 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta

from cadence.config import ConfigError, get_settings
from cadence.monitoring import alerts, daily
from cadence.monitoring import dbt as monitoring_dbt
from cadence.monitoring.rules import RulesError, load_rules, to_dbt
from cadence.planning import cli_moment


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date such as 2026-03-05") from None


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cadence-monitor", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    rules = commands.add_parser("rules", help="validate the KPI rules and print them as dbt receives them")
    kpis = commands.add_parser("kpis", help="KPI anomaly monitoring for one day")
    kpis.add_argument("--day", type=_day, required=True, help="the UTC day (alerts for values known on it)")
    health = commands.add_parser("health", help="pipeline-health monitoring over the run log")
    health.add_argument("--at", type=cli_moment, default=None, help="check time (default: now)")
    for command in (rules, kpis):
        command.add_argument("--rules", default=None, help="KPI rules YAML (default: the configured one)")
    for command in (kpis, health):
        command.add_argument("--dry-run", action="store_true", help="print the SQL; execute nothing")
    return parser.parse_args(argv)


def _kpi_vars(settings, args) -> dict:
    start = datetime.combine(args.day, datetime.min.time(), tzinfo=UTC)
    rules = load_rules(args.rules or settings.monitoring.kpi_rules_path)
    return {
        "window_start": f"{start:{daily.DBT_TIME}}",
        "window_end": f"{start + daily.DAY:{daily.DBT_TIME}}",
        "kpi_rules": to_dbt(rules),
    }


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.command == "rules":
        print(json.dumps(to_dbt(load_rules(args.rules or settings.monitoring.kpi_rules_path)), indent=2))
        return 0
    if args.command == "kpis":
        dbt_vars = _kpi_vars(settings, args)
    else:
        at = args.at or datetime.now(UTC).replace(microsecond=0)
        dbt_vars = daily.health_vars(settings, at - daily.DAY, at)
    model = monitoring_dbt.MODELS[args.command]
    if args.dry_run:
        shown = {key: value for key, value in dbt_vars.items() if key != "kpi_rules"}
        print(f"-- {model}, rendered for {json.dumps(shown)}")
        print(monitoring_dbt.render(settings, model, dbt_vars))
        return 0
    monitoring_dbt.build(settings, model, dbt_vars)
    hook = alerts.warehouse_hook(settings)
    if args.command == "kpis":
        outcome = alerts.kpi_outcome(hook, args.day, args.day + timedelta(days=1))
    else:
        outcome = alerts.health_outcome(hook, datetime.fromisoformat(dbt_vars["health_reference"]))
    alerts.report(outcome, settings)
    print(outcome.summary)
    print(outcome.title)
    if outcome.findings:
        print(outcome.message())
    return 1 if outcome.errors else 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        return _run(args)
    except (ConfigError, RulesError, monitoring_dbt.DbtError) as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
