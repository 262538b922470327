"""Which warehouse dbt runs on, decided by configuration alone: its Cosmos profile and its pool.

DuckDB is one file with one writer, so every task that opens it shares a one-slot pool. BigQuery takes
parallel jobs, so its dbt tasks share a wider pool whose size is a setting. On BigQuery the credentials
are, by default, the environment's own (Application Default Credentials, as Cloud Composer provides):
no key is stored anywhere; a service-account key in the connection is used only when configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadence.config import Settings

if TYPE_CHECKING:
    from airflow.models.pool import Pool
    from cosmos.profiles import BaseProfileMapping


def warehouse_pool(settings: Settings) -> str:
    """The pool of every task that runs dbt or opens the warehouse."""
    return settings.bigquery.pool if settings.warehouse == "bigquery" else settings.duckdb_pool


def pool_slots(settings: Settings) -> int:
    return settings.bigquery.pool_slots if settings.warehouse == "bigquery" else 1


def pool_description(settings: Settings) -> str:
    if settings.warehouse == "bigquery":
        return "dbt tasks running BigQuery jobs at once (CADENCE_BIGQUERY__POOL_SLOTS)"
    return "DuckDB allows one writer process: every task that opens the file runs here"


def profile_mapping(settings: Settings) -> BaseProfileMapping:
    """The Cosmos profile mapping for the ``warehouse_conn_id`` connection."""
    conn_id = settings.warehouse_conn_id
    if settings.warehouse == "duckdb":
        from cosmos.profiles import DuckDBUserPasswordProfileMapping

        return DuckDBUserPasswordProfileMapping(
            conn_id=conn_id, profile_args={"threads": 4, "settings": {"TimeZone": "UTC"}}
        )
    bigquery = settings.bigquery
    args = {"threads": bigquery.threads, **({"location": bigquery.location} if bigquery.location else {})}
    if bigquery.auth == "key":
        from cosmos.profiles import GoogleCloudServiceAccountDictProfileMapping

        return GoogleCloudServiceAccountDictProfileMapping(conn_id=conn_id, profile_args=args)
    if bigquery.auth == "keyfile":
        from cosmos.profiles import GoogleCloudServiceAccountFileProfileMapping

        return GoogleCloudServiceAccountFileProfileMapping(conn_id=conn_id, profile_args=args)
    from cosmos.profiles import GoogleCloudOauthProfileMapping

    return GoogleCloudOauthProfileMapping(conn_id=conn_id, profile_args=args)


def ensure_pool(settings: Settings, session) -> Pool:
    """Create or resize the warehouse's pool (local init; compose and Composer run the same settings)."""
    from airflow.models.pool import Pool

    return Pool.create_or_update_pool(
        warehouse_pool(settings),
        slots=pool_slots(settings),
        include_deferred=False,
        session=session,
        description=pool_description(settings),
    )
