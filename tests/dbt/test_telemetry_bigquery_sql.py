"""The telemetry models compile for BigQuery offline and parse as BigQuery SQL (first build and incremental).

dbt-bigquery's relation look-ups are answered locally (no BigQuery): once "nothing exists" (a first build,
is_incremental() false), once "every relation exists" (the incremental branches). The compiled SQL of every
telemetry model must parse with sqlglot's BigQuery dialect.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.dbt

MODELS = Path(__file__).resolve().parents[2] / "dbt" / "models" / "telemetry"


@pytest.mark.parametrize("relations_exist", [False, True], ids=["first_build", "incremental"])
def test_telemetry_models_compile_to_bigquery_sql(tmp_path, monkeypatch, relations_exist):
    import sqlglot
    from dbt.adapters.bigquery.impl import BigQueryAdapter
    from dbt.cli.main import dbtRunner

    keyfile = tmp_path / "key.json"
    keyfile.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "cadence-local",
                "private_key_id": "x",
                "private_key": _throwaway_key(),
                "client_email": "x@cadence-local.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    for name, value in {
        "DBT_TARGET": "bigquery",
        "CADENCE_BQ_METHOD": "service-account",
        "CADENCE_BQ_KEYFILE": str(keyfile),
        "DBT_LAKE_URL": "gs://cadence-lake",
    }.items():
        monkeypatch.setenv(name, value)

    def get_relation(self, database, schema, identifier):
        if not relations_exist:
            return None
        return self.Relation.create(database=database, schema=schema, identifier=identifier, type="table")

    monkeypatch.setattr(BigQueryAdapter, "get_relation", get_relation)
    monkeypatch.setattr(BigQueryAdapter, "list_relations_without_caching", lambda self, schema: [])
    monkeypatch.setattr(BigQueryAdapter, "get_columns_in_relation", lambda self, relation: [])
    project = Path(__file__).resolve().parents[2] / "dbt"
    target = tmp_path / "target"
    variables = {"window_start": "2026-03-02 00:00:00.000000", "window_end": "2026-03-02 01:00:00.000000"}
    result = dbtRunner().invoke(
        [
            "compile",
            "--select",
            "path:models/telemetry",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(target),
            "--no-populate-cache",
            "--vars",
            json.dumps(variables),
        ]
    )
    assert result.success, result.exception
    compiled = {p.stem: p.read_text() for p in target.rglob("compiled/**/models/telemetry/*.sql")}
    assert set(compiled) == {p.stem for p in MODELS.glob("*.sql")}
    for name, sql in compiled.items():
        assert "varchar" not in sql.lower() and "float4" not in sql.lower(), name
        sqlglot.parse_one(sql, read="bigquery")  # raises on SQL BigQuery would not accept
    if relations_exist:
        assert "user_id in (select user_id from new_events)" in compiled["fct_sessions"]


def _throwaway_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
