"""Compile the dbt project for the BigQuery target with no network (run as a script, in a subprocess).

dbt-bigquery asks BigQuery whether relations exist (is_incremental(), load_relation) and which columns
they have (unit-test fixtures). Here those look-ups are answered locally, for one simulated state of the
dataset, inside a programmatic ``dbtRunner`` invocation; every statement dbt would send to BigQuery is
recorded instead of sent. Credentials are a throw-away service-account key generated on the spot.

    python tests/support/bigquery_offline.py --project-dir dbt --out DIR --plan plan.json

plan.json lists invocations ({"name", "state": "empty"|"existing", "args": [dbt command ...]}); the
project is parsed once and shared. Each writes DIR/<name>/executed.json (the statements dbt tried to run)
and its compiled SQL under DIR/<name>/target/compiled.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from unittest import mock


def query_columns(sql: str) -> list[tuple[str, str]]:
    """The output columns of a query and their BigQuery types, inferred by sqlglot (no warehouse).

    Unit tests ask the warehouse for the types of the model's output to cast their expected rows; every
    input fixture here is SQL, so the types follow from the query text alone.
    """
    import sqlglot
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    tree = qualify(
        sqlglot.parse_one(sql, read="bigquery"), dialect="bigquery", validate_qualify_columns=False
    )
    tree = annotate_types(tree, dialect="bigquery")
    return [(s.alias_or_name, s.type.sql("bigquery") if s.type else "STRING") for s in tree.selects]


def write_service_account_key(path: Path) -> Path:
    """A syntactically valid service-account key (fresh RSA key) that no Google project knows."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "cadence-offline",
                "private_key_id": "offline",
                "private_key": pem,
                "client_email": "offline@cadence-offline.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://127.0.0.1:9/token",
            }
        )
    )
    return path


def run(plan: list[dict], out: Path, project_dir: Path) -> int:
    """Parse the project once, then run each invocation of ``plan`` ({name, state, args}) offline.

    Each invocation compiles into out/<name>/target and records what dbt tried to execute in
    out/<name>/executed.json. Returns the number of invocations that failed where they should not
    (unit tests always "fail" offline: their result set is empty; their SQL is what is checked).
    """
    import sqlglot
    from dbt.adapters.bigquery import BigQueryAdapter, BigQueryColumn, BigQueryRelation
    from dbt.adapters.bigquery.connections import BigQueryAdapterResponse, BigQueryConnectionManager
    from dbt.cli.main import dbtRunner
    from dbt_common.clients.agate_helper import empty_table

    current = {"tables_exist": False, "executed": []}
    created: dict[str, list[tuple[str, str]]] = {}  # columns of the tables dbt created, by identifier

    def get_relation(self, database, schema, identifier):
        if not current["tables_exist"] and identifier not in created:
            return None
        return BigQueryRelation.create(database=database, schema=schema, identifier=identifier, type="table")

    def get_columns_in_relation(self, relation):
        return [BigQueryColumn(name, dtype) for name, dtype in created.get(relation.identifier, [])]

    def get_column_schema_from_query(self, sql):
        return [BigQueryColumn(name, dtype) for name, dtype in query_columns(sql)]

    def execute(self, sql, auto_begin=False, fetch=False, limit=None):
        current["executed"].append(sql)
        statement = sqlglot.parse_one(sql, read="bigquery")
        if isinstance(statement, sqlglot.exp.Create) and isinstance(statement.expression, sqlglot.exp.Query):
            created[statement.this.find(sqlglot.exp.Table).name] = query_columns(
                statement.expression.sql("bigquery")
            )
        return BigQueryAdapterResponse(_message="offline"), empty_table()

    def raw_execute(self, sql, *args, **kwargs):
        raise RuntimeError(f"offline: dbt tried to run a query against BigQuery:\n{sql}")

    def drop_relation(self, relation):
        current["executed"].append(f"drop table if exists {relation}")

    patches = [
        mock.patch.object(BigQueryAdapter, "get_relation", get_relation),
        mock.patch.object(BigQueryAdapter, "get_columns_in_relation", get_columns_in_relation),
        mock.patch.object(BigQueryAdapter, "get_column_schema_from_query", get_column_schema_from_query),
        mock.patch.object(
            BigQueryAdapter, "list_relations_without_caching", lambda self, schema_relation: []
        ),
        mock.patch.object(BigQueryAdapter, "list_schemas", lambda self, database: []),
        mock.patch.object(BigQueryAdapter, "check_schema_exists", lambda self, database, schema: True),
        mock.patch.object(BigQueryAdapter, "drop_relation", drop_relation),
        mock.patch.object(BigQueryConnectionManager, "execute", execute),
        mock.patch.object(BigQueryConnectionManager, "raw_execute", raw_execute),
    ]
    common = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir), "--no-populate-cache"]
    for patch in patches:
        patch.start()
    failures = 0
    try:
        parsed = dbtRunner().invoke(["parse", *common, "--target-path", str(out / "parse"), "--quiet"])
        if not parsed.success:
            print(f"dbt parse failed: {parsed.exception!r}", file=sys.stderr)
            return 1
        for step in plan:
            current.update(tables_exist=step["state"] != "empty", executed=[])
            created.clear()
            step_dir = out / step["name"]
            step_dir.mkdir(parents=True, exist_ok=True)
            args = [*step["args"], *common, "--target-path", str(step_dir / "target")]
            result = dbtRunner(manifest=parsed.result).invoke(args)
            (step_dir / "executed.json").write_text(json.dumps(current["executed"], indent=1))
            if not result.success and not step.get("may_fail"):
                print(f"{step['name']}: dbt {' '.join(args)} failed: {result.exception!r}", file=sys.stderr)
                failures += 1
    finally:
        for patch in patches:
            patch.stop()
    return failures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--plan", type=Path, required=True, help="JSON list of {name, state, args}")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--project-dir", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    key = write_service_account_key(args.out / "service_account.json")
    os.environ.update(
        DBT_TARGET="bigquery",
        CADENCE_BQ_METHOD="service-account",
        CADENCE_BQ_KEYFILE=str(key),
        CADENCE_BQ_PROJECT="cadence-offline",
        DBT_LAKE_URL=os.environ.get("DBT_LAKE_URL", "gs://cadence-offline-lake/lake"),
    )
    return run(json.loads(args.plan.read_text()), args.out, args.project_dir)


if __name__ == "__main__":
    sys.exit(main())
