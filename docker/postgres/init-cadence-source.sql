-- Runs once, when the postgres service starts with an empty data volume (docker-entrypoint-initdb.d),
-- as the superuser from POSTGRES_USER. Creates the game backend's source database next to the Airflow
-- metadata database: the simulator writes to it and the extract tasks read it, through the Airflow
-- connection `cadence_source` that the airflow-init service creates (docker/airflow-init.sh).
--
-- Development-only credentials, like the official compose file's airflow/airflow; never reuse them.
-- To re-run this script, remove the volume: `docker compose down --volumes`.
CREATE ROLE cadence WITH LOGIN PASSWORD 'cadence';
CREATE DATABASE cadence_source WITH OWNER cadence;
-- Postgres 15+ grants CREATE on the public schema only to the database owner (cadence), which is all the
-- simulator needs to create its tables.
