"""``cadence-workbook``: import a MOC-style workbook like the ``workbook_import`` DAG does.

    cadence-workbook uploads/moc.xlsx                       # a path in the lake, its own days
    cadence-workbook /data/moc.xlsx --start 2026-03-01T00:00Z --end 2026-03-02T00:00Z
    cadence-workbook moc.xlsx --no-build                    # land bronze and Data Docs only

Read → validate → bronze/quarantine/run log/Data Docs, then ``dbt build`` of silver and gold for the range
(the same models and selection as the DAG), then the gold CSV and ``.xlsx`` next to the workbook. Exit
status 2 when the workbook is refused (nothing is changed), 1 when dbt fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from unittest.mock import patch

from cadence.config import ConfigError, Settings, get_settings
from cadence.dbt_group import dbt_env
from cadence.workbook import WorkbookError
from cadence.workbook.tasks import SELECT_GOLD, SELECT_SILVER


def build(settings: Settings, dbt_vars: dict[str, str], *, full_refresh: bool = False) -> None:
    """``dbt build`` of silver and gold (models and their tests) for the window in ``dbt_vars``."""
    from dbt.cli.main import dbtRunner

    from cadence.dbt_group import release_dbt_duckdb

    project = str(settings.dbt_project_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dbt_env(settings) | {"DBT_TARGET": settings.warehouse, "DBT_DUCKDB_PATH": str(settings.duckdb_path)}
    with tempfile.TemporaryDirectory() as scratch, patch.dict(os.environ, env):
        args = ["build", "--project-dir", project, "--profiles-dir", project, "--target-path", scratch]
        args += [
            "--log-path",
            scratch,
            "--select",
            *SELECT_SILVER,
            *SELECT_GOLD,
            "--vars",
            json.dumps(dbt_vars),
        ]
        result = dbtRunner().invoke([*args, "--full-refresh"] if full_refresh else args)
        release_dbt_duckdb()
    if not result.success:
        failed = [
            f"{item.node.name}: {item.message}"
            for item in getattr(result.result, "results", None) or []
            if str(item.status) in ("error", "fail")
        ]
        raise RuntimeError("dbt build failed: " + ("; ".join(failed) or str(result.exception)))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cadence-workbook", description=__doc__.splitlines()[0])
    parser.add_argument(
        "workbook", help="path in the lake (uploads/moc.xlsx) or a location (/x.xlsx, gs://…)"
    )
    parser.add_argument("--start", help="range start, UTC, on the hour (default: the workbook's first day)")
    parser.add_argument("--end", help="range end, UTC, exclusive (default: the day after its last day)")
    parser.add_argument("--full-refresh", action="store_true", help="rebuild silver and gold from the lake")
    parser.add_argument(
        "--no-build", action="store_true", help="land bronze and Data Docs only, no dbt/export"
    )
    return parser.parse_args(argv)


def _report(summary: dict) -> str:
    lines = [
        f"workbook {summary['workbook']} (read with {summary['engine']})",
        f"range    {summary['window_start']} → {summary['window_end']} UTC",
    ]
    for report in summary["sheets"].values():
        lines.append(
            f"{report['sheet']:<13} {report['rows_read']} rows read, "
            f"{report['rows_outside_range']} outside the range, {report['rows_valid']} valid, "
            f"{report['rows_quarantined']} quarantined, "
            f"{report['rows_landed']} landed ({report['rows_merged']} merged)"
        )
        for reason, count in {**report["rule_failures"], **report["warnings"]}.items():
            if count:
                kind = "warning" if reason in report["warnings"] else "rejected"
                lines.append(f"  {kind}: {count} rows: {reason}")
    lines += [f"{name:<24} {path}" for name, path in summary["files"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        settings = get_settings()
        from cadence.workbook.export import export
        from cadence.workbook.importer import import_workbook, resolve

        result = import_workbook(settings, args.workbook, args.start, args.end)
    except (WorkbookError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = result.summary()
    print(_report(summary))
    if args.no_build:
        return 0
    try:
        build(settings, result.dbt_vars(), full_refresh=args.full_refresh)
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    exported = export(settings, resolve(result.workbook, settings), result.window, result.headers)
    print(f"{'gold rows':<24} {exported['rows']}\n{'gold csv':<24} {exported['csv']}")
    print(f"{'gold xlsx':<24} {exported['xlsx']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
