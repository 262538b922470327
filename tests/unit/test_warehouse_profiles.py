"""The dbt profile Cosmos renders for each BigQuery credential mode, chosen by configuration alone."""

from __future__ import annotations

import json

import pytest
import yaml
from cadence.config import load_settings
from cadence.warehouse import pool_slots, profile_mapping, warehouse_pool

pytestmark = pytest.mark.unit

KEY = {
    "type": "service_account",
    "project_id": "p",
    "private_key_id": "kid",
    "private_key": "-----KEY-----",
    "client_email": "sa@p.iam.gserviceaccount.com",
}


def _render(monkeypatch, extra: dict, **settings) -> dict:
    """The profiles.yml Cosmos would write for the cadence_warehouse connection with ``extra``."""
    from cosmos import ProfileConfig

    monkeypatch.setenv(
        "AIRFLOW_CONN_CADENCE_WAREHOUSE", json.dumps({"conn_type": "google_cloud_platform", "extra": extra})
    )
    mapping = profile_mapping(load_settings(warehouse="bigquery", **settings))
    config = ProfileConfig(profile_name="cadence", target_name="bigquery", profile_mapping=mapping)
    rendered = yaml.safe_load(mapping.get_profile_file_contents("cadence", "bigquery"))
    assert config.target_name == "bigquery"
    return rendered["cadence"]["outputs"]["bigquery"], mapping.env_vars


def test_default_bigquery_profile_uses_application_default_credentials(monkeypatch):
    """Composer's own credentials: no key in the connection, none in the profile."""
    output, env = _render(
        monkeypatch, {"project": "prod-proj", "dataset": "cadence"}, bigquery={"location": "EU"}
    )
    assert output == {
        "type": "bigquery",
        "method": "oauth",
        "project": "prod-proj",
        "dataset": "cadence",
        "threads": 4,
        "location": "EU",
    }
    assert env == {}


def test_key_mode_uses_the_connection_key_and_keeps_its_secret_out_of_the_profile(monkeypatch):
    extra = {"project": "prod-proj", "dataset": "cadence", "keyfile_dict": json.dumps(KEY)}
    output, env = _render(monkeypatch, extra, bigquery={"auth": "key", "threads": 8})
    assert output["method"] == "service-account-json"
    assert output["threads"] == 8
    assert output["keyfile_json"]["client_email"] == KEY["client_email"]
    assert "-----KEY-----" not in json.dumps(output)  # the secret goes through an environment variable
    assert "-----KEY-----" in env.values()


def test_each_mode_claims_only_a_connection_that_fits_it(monkeypatch):
    """Cosmos checks the connection against the mapping before a dbt task runs: key mode needs a key."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_CADENCE_WAREHOUSE",
        json.dumps({"conn_type": "google_cloud_platform", "extra": {"project": "p", "dataset": "cadence"}}),
    )
    assert profile_mapping(load_settings(warehouse="bigquery")).can_claim_connection()
    assert not profile_mapping(
        load_settings(warehouse="bigquery", bigquery={"auth": "key"})
    ).can_claim_connection()


def test_keyfile_mode_points_at_the_connection_key_path(monkeypatch):
    extra = {"project": "prod-proj", "dataset": "cadence", "key_path": "/secrets/sa.json"}
    output, _ = _render(monkeypatch, extra, bigquery={"auth": "keyfile"})
    assert (output["method"], output["keyfile"]) == ("service-account", "/secrets/sa.json")


def test_auth_mode_is_validated_and_named():
    from cadence.config import ConfigError

    with pytest.raises(ConfigError, match="CADENCE_BIGQUERY__AUTH"):
        load_settings(bigquery={"auth": "password"})


def test_pool_per_warehouse():
    duckdb = load_settings()
    bigquery = load_settings(warehouse="bigquery", bigquery={"pool": "bq_dbt", "pool_slots": 12})
    assert (warehouse_pool(duckdb), pool_slots(duckdb)) == ("duckdb", 1)
    assert (warehouse_pool(bigquery), pool_slots(bigquery)) == ("bq_dbt", 12)
