# Cadence image: the official Airflow image extended with our locked dependencies, the cadence package,
# the DAGs and the dbt project. Used by every Airflow service in docker-compose.yaml.
#
#   docker build -t cadence-airflow .
#
# No secrets are baked in: credentials come from the environment (docker-compose.yaml / .env) or from
# Airflow connections created at start-up by the airflow-init service.
# The scripts and styles of the Great Expectations Data Docs pages (assets/data-docs, npm ci from its lock),
# which the Cadence plugin serves instead of the CDNs the pages name: built apart, only node_modules is kept.
FROM node:20-bookworm-slim AS data-docs-assets
WORKDIR /assets
COPY assets/data-docs/package.json assets/data-docs/package-lock.json assets/data-docs/.npmrc ./
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM apache/airflow:3.3.2-python3.11

# AIRFLOW_HOME is /opt/airflow in the base image; the project lives directly under it:
#   /opt/airflow/dags     DAG files (the dags_folder)
#   /opt/airflow/include  the cadence package (editable install, see below)
#   /opt/airflow/dbt      the dbt project (profiles.yml in it reads env vars; target from DBT_TARGET)
#   /opt/airflow/data     CADENCE_DATA_DIR: lake + DuckDB file (a shared volume in docker compose)
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=false \
    CADENCE_DATA_DIR=/opt/airflow/data \
    CADENCE_DBT_PROJECT_DIR=/opt/airflow/dbt \
    DBT_PROFILES_DIR=/opt/airflow/dbt \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The base image's non-root "airflow" user (uid 50000, gid 0); pip installs into its ~/.local as the
# official image expects (PIP_USER=true). Numeric so the user id resolves without /etc/passwd lookups.
USER 50000
WORKDIR /opt/airflow

# requirements.txt is a full lock (uv pip compile, pins apache-airflow==3.3.2 itself), so it is installed
# as is, without an Airflow constraints file. Copied alone first so the layer is cached across code edits.
COPY --chown=50000:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt

# The package is installed editable from /opt/airflow/include: cadence.config derives PROJECT_ROOT from its
# own file location, which must stay /opt/airflow (for dbt/, .data defaults), and a bind mount of ./include
# over it in docker compose takes effect without rebuilding. --no-deps: everything is already in the lock.
COPY --chown=50000:0 pyproject.toml /opt/airflow/pyproject.toml
COPY --chown=50000:0 include/ /opt/airflow/include/
RUN pip install --no-cache-dir --no-deps -e /opt/airflow \
    && mkdir -p /opt/airflow/data

COPY --chown=50000:0 dbt/ /opt/airflow/dbt/
COPY --chown=50000:0 dags/ /opt/airflow/dags/
# The Cadence UI plugin (analysts' dashboard, Data Docs): the image's default [core] plugins_folder, and the
# Data Docs assets where cadence.docs.ASSETS_DIR looks for them.
COPY --chown=50000:0 plugins/ /opt/airflow/plugins/
COPY --from=data-docs-assets --chown=50000:0 /assets/node_modules /opt/airflow/assets/data-docs/node_modules
