"""Every model, data test and unit test compiles to valid BigQuery SQL, offline.

dbt-bigquery's relation and column look-ups are answered locally (tests/support/bigquery_offline.py) in
the states a production dataset goes through: empty (the first run), existing tables (incremental runs
with an hourly and a daily window) and a full refresh; unit tests and the setup of the lake's external
tables are executed with every statement recorded instead of sent. Each compiled or recorded statement is
parsed with sqlglot's BigQuery dialect and must not contain a WHERE without a FROM or a type BigQuery does
not have. A dead proxy makes any stray network call fail at once, and the whole run is bounded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlglot
from cadence.config import PROJECT_ROOT, load_settings
from cadence.monitoring.daily import health_vars, kpi_vars
from sqlglot import exp

pytestmark = [pytest.mark.dbt, pytest.mark.timeout(600)]

HARNESS = Path(__file__).parents[1] / "support" / "bigquery_offline.py"
DEAD_PROXY = "http://127.0.0.1:8119"  # h11's port range; nothing listens there
HOURLY = {"window_start": "2026-03-02 10:00:00", "window_end": "2026-03-02 11:00:00"}
DAILY = {"window_start": "2026-03-02 00:00:00", "window_end": "2026-03-03 00:00:00"}
# Type names other warehouses accept and BigQuery does not (it has STRING, INT64, FLOAT64, NUMERIC, ...),
# and the Postgres-style cast operator. Checked on the text: sqlglot maps these names to its own types.
FOREIGN_TYPE = re.compile(
    r"\bas\s+(varchar|char|text|float4|float8|real|double|timestamptz|hugeint|ubigint|uinteger|uuid|blob)\b|::",
    re.IGNORECASE,
)


def _plan() -> list[dict]:
    settings = load_settings()
    moment = datetime(2026, 3, 3, tzinfo=UTC)
    monitoring = {
        **kpi_vars(settings),
        **health_vars(settings, since=datetime(2026, 3, 2, tzinfo=UTC), reference=moment),
    }
    return [
        {"name": "setup", "state": "empty", "args": ["run-operation", "create_external_tables"]},
        {
            "name": "setup_replace",
            "state": "existing",
            "args": ["run-operation", "create_external_tables", "--args", "{replace: true}"],
        },
        {"name": "empty", "state": "empty", "args": ["compile", "--vars", json.dumps(HOURLY)]},
        {"name": "hourly", "state": "existing", "args": ["compile", "--vars", json.dumps(HOURLY)]},
        {
            "name": "daily",
            "state": "existing",
            "args": ["compile", "--vars", json.dumps({**DAILY, **monitoring})],
        },
        {
            "name": "full_refresh",
            "state": "existing",
            "args": ["compile", "--full-refresh", "--vars", json.dumps(DAILY)],
        },
        {
            "name": "unit_tests",
            "state": "empty",
            "args": ["test", "--select", "test_type:unit"],
            "may_fail": True,  # offline every query returns no rows, so the comparison cannot pass
        },
    ]


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory) -> Path:
    """Run the whole plan in one bounded subprocess (one dbt parse) and return its output folder."""
    out = tmp_path_factory.mktemp("bigquery_compile")
    plan = out / "plan.json"
    plan.write_text(json.dumps(_plan()))
    env = {
        **os.environ,
        "HTTPS_PROXY": DEAD_PROXY,
        "HTTP_PROXY": DEAD_PROXY,
        "https_proxy": DEAD_PROXY,
        "http_proxy": DEAD_PROXY,
        "NO_PROXY": "",
        "no_proxy": "",
        "GCE_METADATA_HOST": "127.0.0.1:8119",
        "GCE_METADATA_IP": "127.0.0.1:8119",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    completed = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            "--plan",
            str(plan),
            "--out",
            str(out / "run"),
            "--project-dir",
            str(PROJECT_ROOT / "dbt"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    return out / "run"


EXTERNAL_TABLE = re.compile(
    r"create (or replace )?external table (if not exists )?(?P<name>\S+)\s*(?P<columns>\(.*?\))?\s*"
    r"(with partition columns \((?P<partitions>[^)]*)\)\s*)?options\s*(?P<options>\(.*\))\s*$",
    re.IGNORECASE | re.DOTALL,
)


def _statements(sql: str) -> list[exp.Expression]:
    """Parse strictly. sqlglot has no grammar for BigQuery's CREATE EXTERNAL TABLE, so that one is checked
    by its shape, with its column list and options parsed as those of an ordinary CREATE TABLE."""
    statements = []
    for text in (part.strip() for part in sql.split(";")):
        if not text or (text.startswith("--") and "\n" not in text):
            continue
        external = EXTERNAL_TABLE.match(text)
        if external:
            columns = external["columns"] or ""
            if external["partitions"]:
                columns = (
                    f"({columns.strip()[1:-1]}, {external['partitions']})"
                    if columns
                    else f"({external['partitions']})"
                )
            text = f"create table {external['name']} {columns} options {external['options']}"
        statement = sqlglot.parse_one(text, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
        if isinstance(statement, exp.Command):
            raise sqlglot.errors.ParseError(f"not parsed, only passed through: {text[:200]}")
        statements.append(statement)
    return statements


def _problems(sql: str) -> list[str]:
    """Why ``sql`` is not valid BigQuery: a parse error, a WHERE without FROM, a foreign type."""
    try:
        statements = _statements(sql)
    except sqlglot.errors.ParseError as error:
        return [f"parse error: {error}"]
    problems = [f"type BigQuery lacks: {m.group(0)!r}" for m in FOREIGN_TYPE.finditer(sql)]
    for statement in statements:
        for select in statement.find_all(exp.Select):
            if select.args.get("where") is not None and select.args.get("from_") is None:
                problems.append(f"WHERE without FROM: {select.sql('bigquery')[:200]}")
    return problems


def _compiled(step_dir: Path) -> dict[str, str]:
    return {
        str(path.relative_to(step_dir)): path.read_text()
        for path in sorted((step_dir / "target" / "compiled").rglob("*.sql"))
    }


def _report(state: str, compiled: int, parsed: int) -> None:
    print(f"\nBigQuery offline {state}: compiled {compiled}, parsed {parsed}")


@pytest.mark.parametrize("state", ["empty", "hourly", "daily", "full_refresh"])
def test_every_node_compiles_to_valid_bigquery_sql(offline_run, state):
    compiled = _compiled(offline_run / state)
    manifest = json.loads((offline_run / state / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    assert len(compiled) == len(models) + len(tests), "every model and data test is compiled"
    # plus what dbt executed on the way: the on-run-start hook's DDL
    executed = json.loads((offline_run / state / "executed.json").read_text())
    compiled.update({f"executed statement {i}": sql for i, sql in enumerate(executed)})
    problems = {name: found for name, sql in compiled.items() if (found := _problems(sql))}
    _report(state, len(compiled), len(compiled) - len(problems))
    assert not problems, json.dumps(problems, indent=1)


def test_unit_tests_run_valid_bigquery_sql(offline_run):
    executed = json.loads((offline_run / "unit_tests" / "executed.json").read_text())
    manifest = json.loads((offline_run / "unit_tests" / "target" / "manifest.json").read_text())
    main_statements = [sql for sql in executed if "actual_or_expected" in sql]
    assert len(main_statements) == len(manifest["unit_tests"]) > 0, "every unit test ran its comparison query"
    problems = {i: found for i, sql in enumerate(executed) if (found := _problems(sql))}
    _report("unit tests", len(executed), len(executed) - len(problems))
    assert not problems, json.dumps(problems, indent=1)


def test_setup_creates_every_lake_table_as_valid_bigquery_ddl(offline_run):
    executed = json.loads((offline_run / "setup" / "executed.json").read_text())
    manifest = json.loads((offline_run / "parse" / "manifest.json").read_text())
    lake_sources = {
        f"`{s['schema']}`.`{s['identifier']}`"
        for s in manifest["sources"].values()
        if s["meta"].get("bigquery_external") or s["config"].get("meta", {}).get("bigquery_external")
    }
    hooks = [n["raw_code"] for n in manifest["nodes"].values() if n["resource_type"] == "operation"]
    assert any("create_external_tables()" in hook for hook in hooks), "every dbt invocation sets them up"
    ddl = "\n".join(executed)
    missing = [name for name in lake_sources if f"{name}" not in ddl]
    assert not missing, f"no external table created for {missing}"
    assert ddl.lower().count("create external table if not exists") == len(lake_sources)
    replaced = "\n".join(json.loads((offline_run / "setup_replace" / "executed.json").read_text()))
    assert replaced.lower().count("create or replace external table") == len(lake_sources)
    executed += json.loads((offline_run / "setup_replace" / "executed.json").read_text())
    problems = {i: found for i, sql in enumerate(executed) if (found := _problems(sql))}
    _report("setup", len(executed), len(executed) - len(problems))
    assert not problems, json.dumps(problems, indent=1)


@pytest.mark.parametrize(
    "sql",
    [
        "select cast(null as string) as a where 1 = 0",  # the old empty stand-in
        "select * from ( union all select 1 as k) as d",  # the old sub-day KPI window
        "select cast(null as varchar) as user_id",  # the old unit-test fixture
    ],
)
def test_the_checker_refuses_what_bigquery_refuses(sql):
    assert _problems(sql)


def test_large_tables_are_partitioned_and_clustered_on_bigquery(offline_run):
    """Config written once (dbt_project.yml), resolved for the BigQuery target."""
    nodes = json.loads((offline_run / "parse" / "manifest.json").read_text())["nodes"]
    layout = {
        node["name"]: (node["config"].get("partition_by") or {}).get("field")
        for node in nodes.values()
        if node["resource_type"] == "model"
    }
    assert layout["aggregated_final_table"] == layout["aggregated_daily_table"] == "app_date"
    assert layout["purchases"] == "purchase_hour"
    assert layout["stg_mmp_events"] == "event_date"
    clusters = {
        n["name"]: n["config"].get("cluster_by") for n in nodes.values() if n["resource_type"] == "model"
    }
    assert clusters["aggregated_final_table"] == clusters["aggregated_daily_table"] == ["user_id"]
    hourly_gold = offline_run / "hourly" / "target" / "compiled" / "cadence" / "models" / "gold"
    assert hourly_gold.is_dir()
