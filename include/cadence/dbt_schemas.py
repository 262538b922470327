"""Imported by the workers' preload (cadence.preload) after dbt: builds the JSON schemas dbt checks its
project, flags, packages and DuckDB profile against at the start of every invocation.

dbt builds each schema once per process (a cached classmethod, ~0.35 s of CPU for these four); built in the
worker before it forks, every dbt task process finds them ready instead of building them again.
"""

from dbt.adapters.duckdb.credentials import DuckDBCredentials
from dbt.contracts.project import PackageConfig, Project, ProjectFlags

for _contract in (Project, ProjectFlags, PackageConfig, DuckDBCredentials):
    _contract.json_schema()
