"""Lay out exactly what Cloud Composer gets: ``make composer-bundle`` → ``build/composer/``.

    build/composer/
      dags/                     → gs://<bucket>/dags   (/home/airflow/gcs/dags, on sys.path in Composer)
        purchases.py, ...         the DAG files
        cadence/                  the package, importable from the DAGs folder (no install needed)
        .airflowignore            the DAG processor skips the package
      data/dbt/                 → gs://<bucket>/data/dbt (/home/airflow/gcs/data/dbt)
        dbt_project.yml, models/, macros/, tests/, profiles.yml, manifest/manifest.json
      requirements-composer.txt   the PyPI packages Composer lacks

Composer runs it with CADENCE_DBT_PROJECT_DIR=/home/airflow/gcs/data/dbt (README: "Cloud Composer").
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from cadence.config import PROJECT_ROOT

COMPOSER_DATA = Path("/home/airflow/gcs/data")
DBT_PARTS = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "manifest")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "target", "logs", "dbt_packages", ".user.yml")


def build(out: Path, root: Path = PROJECT_ROOT) -> Path:
    """Write the bundle into ``out`` (replacing it) and return it."""
    if out.exists():
        shutil.rmtree(out)
    dags = out / "dags"
    dags.mkdir(parents=True)
    for dag_file in sorted((root / "dags").glob("*.py")):
        shutil.copy2(dag_file, dags / dag_file.name)
    shutil.copytree(root / "include" / "cadence", dags / "cadence", ignore=SKIP)
    (dags / ".airflowignore").write_text("cadence/\n")
    dbt = out / "data" / "dbt"
    dbt.mkdir(parents=True)
    for part in DBT_PARTS:
        source = root / "dbt" / part
        if source.is_dir():
            shutil.copytree(source, dbt / part, ignore=SKIP)
        else:
            shutil.copy2(source, dbt / part)
    shutil.copy2(root / "requirements-composer.txt", out / "requirements-composer.txt")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=PROJECT_ROOT / "build" / "composer")
    out = build(parser.parse_args(argv).out)
    files = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"Composer bundle: {out} ({files} files); upload it as README.md § Cloud Composer shows.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
