#!/usr/bin/env bash
# One-shot set-up run by the airflow-init service of docker-compose.yaml on every `docker compose up`
# (all steps are idempotent). The other Airflow services start only after it exits successfully.
#
# Phase 1 runs as root (user "0:0", as in the official compose file): creates the shared folders and hands
#   them to AIRFLOW_UID:0, then re-executes this script through the image's /entrypoint, which waits for
#   the metadata database and runs `airflow db migrate` (because _AIRFLOW_DB_MIGRATE=true).
# Phase 2 (--configure) creates what Cadence needs in Airflow:
#   - the admin user of the simple auth manager (Airflow 3's default; the FAB provider is not in our lock,
#     so `_AIRFLOW_WWW_USER_CREATE` / `airflow users create` are not used),
#   - the `duckdb` pool with ONE slot: every task that opens the DuckDB file runs in it, because DuckDB
#     allows one writer process and all workers share the one file on the data volume,
#   - the connections `cadence_source` (Postgres database created by docker/postgres/*.sql) and
#     `cadence_warehouse` (DuckDB file under CADENCE_DATA_DIR).
set -euo pipefail

AIRFLOW_UID="${AIRFLOW_UID:-50000}"
DATA_DIR="${CADENCE_DATA_DIR:-/opt/airflow/data}"
LOGS_DIR="${AIRFLOW__LOGGING__BASE_LOG_FOLDER:-/opt/airflow/logs}"
PASSWORDS_FILE="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-/opt/airflow/auth/simple_auth_manager_passwords.json}"

if [[ "${1:-}" != "--configure" ]]; then
    if [[ "$(id -u)" != "0" ]]; then
        echo "airflow-init must start as root (user: \"0:0\") to set folder ownership" >&2
        exit 1
    fi
    mkdir -p "${LOGS_DIR}" "${DATA_DIR}/lake" "$(dirname "${PASSWORDS_FILE}")"
    chown -R "${AIRFLOW_UID}:0" "${LOGS_DIR}" "$(dirname "${PASSWORDS_FILE}")"
    # Not recursive: the lake grows; only the top folders must be writable by the Airflow user.
    chown "${AIRFLOW_UID}:0" "${DATA_DIR}" "${DATA_DIR}/lake"
    exec /entrypoint bash "${BASH_SOURCE[0]}" --configure
fi

airflow version

if [ "${CADENCE_WAREHOUSE:-duckdb}" = "bigquery" ]; then
    echo "Pool: ${CADENCE_BIGQUERY__POOL:-bigquery} (${CADENCE_BIGQUERY__POOL_SLOTS:-8} slots)"
    airflow pools set "${CADENCE_BIGQUERY__POOL:-bigquery}" "${CADENCE_BIGQUERY__POOL_SLOTS:-8}" \
        "dbt tasks running BigQuery jobs at once (CADENCE_BIGQUERY__POOL_SLOTS)"
else
    echo "Pool: duckdb (1 slot)"
    airflow pools set duckdb 1 "One slot: DuckDB allows a single writer process; every task opening the file uses it"
fi

echo "Connections: cadence_source, cadence_warehouse"
airflow connections delete cadence_source >/dev/null 2>&1 || true
airflow connections add cadence_source \
    --conn-type postgres \
    --conn-host postgres \
    --conn-port 5432 \
    --conn-schema cadence_source \
    --conn-login cadence \
    --conn-password cadence \
    --conn-description "Game backend source database (Postgres in docker compose)"
airflow connections delete cadence_warehouse >/dev/null 2>&1 || true
airflow connections add cadence_warehouse \
    --conn-type duckdb \
    --conn-host "${DATA_DIR}/warehouse.duckdb" \
    --conn-description "DuckDB warehouse file on the shared data volume (guarded by the duckdb pool)"

echo "Admin user: ${_AIRFLOW_WWW_USER_USERNAME:-airflow} (simple auth manager)"
python - "${PASSWORDS_FILE}" <<'PY'
import json
import os
import sys

username = os.environ.get("_AIRFLOW_WWW_USER_USERNAME") or "airflow"
password = os.environ["_AIRFLOW_WWW_USER_PASSWORD"]  # compose requires it: no default password
with open(sys.argv[1], "w") as handle:
    json.dump({username: password}, handle)
    handle.write("\n")
PY
chown -R "${AIRFLOW_UID}:0" "${LOGS_DIR}" "$(dirname "${PASSWORDS_FILE}")"
chmod 0660 "${PASSWORDS_FILE}"
echo "airflow-init done"
