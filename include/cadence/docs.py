"""Documentation the pipeline keeps current in the lake, for the links in the Airflow UI.

- dbt docs: ``daily_kpis`` ends with Cosmos's ``DbtDocsLocalOperator`` (``dbt docs generate``), whose
  callback copies ``index.html``, ``manifest.json`` and ``catalog.json`` to ``<lake>/docs/dbt``; Cosmos's
  plugin serves that folder (``[cosmos] dbt_docs_projects``, set by :mod:`cadence.local`).
- Great Expectations Data Docs: every validation of a cadence (purchases, spins, mmp) is rendered by GX's
  own Data Docs renderer to ``<lake>/docs/gx/<source>/<window>.html``, ``<window>`` being the span it
  validated at once (one chunk or several: :func:`cadence.ingest.ingest`); the Cadence plugin lists and serves
  them at ``/cadence/data-docs/``.
Both go through ``ObjectStoragePath``, so they land in gs:// in production as they do in file:// here.
"""

from __future__ import annotations

import logging

from cadence.config import Settings
from cadence.lake import Window

log = logging.getLogger(__name__)

DBT_DOCS_FILES = ("index.html", "manifest.json", "catalog.json")


def docs_root(settings: Settings):
    from cadence import lake

    return lake.root(settings) / "docs"


def dbt_docs_url(settings: Settings) -> str:
    return f"{settings.lake_url.rstrip('/')}/docs/dbt"


def publish_dbt_docs_site(project_dir: str, **kwargs) -> list[str]:
    """Cosmos callback after ``dbt docs generate``: copy the site from the run's target into the lake."""
    from pathlib import Path

    from cadence import lake
    from cadence.config import get_settings

    target = docs_root(get_settings()) / "dbt"
    copied = []
    for name in DBT_DOCS_FILES:
        source = Path(project_dir) / "target" / name
        if not source.exists():
            raise FileNotFoundError(f"dbt docs generate left no {source}")
        lake.write_atomic(target / name, source.read_bytes())
        copied.append(name)
    log.info("dbt docs published to %s: %s", target, copied)
    return copied


def dbt_docs_task(settings: Settings, task_id: str = "publish_dbt_docs"):
    """A task running ``dbt docs generate`` on the warehouse and publishing the site into the lake."""
    from cosmos.config import ProfileConfig  # noqa: F401  (Cosmos imported lazily, at parse time only here)
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtDocsLocalOperator

    from cadence.dbt_group import dbt_env, profile_config
    from cadence.warehouse import warehouse_pool

    return DbtDocsLocalOperator(
        task_id=task_id,
        project_dir=str(settings.dbt_project_dir),
        profile_config=profile_config(settings),
        env=dbt_env(settings),
        invocation_mode=InvocationMode.DBT_RUNNER,
        install_deps=False,
        pool=warehouse_pool(settings),  # the catalog reads the warehouse
        callback="cadence.docs.publish_dbt_docs_site",
    )


def publish_validation(settings: Settings, source: str, window: Window, gx_result) -> str | None:
    """Render one GX validation result as a Data Docs page in the lake; never fails the landing."""
    if gx_result is None:
        return None
    try:
        from great_expectations.render.renderer import ValidationResultsPageRenderer
        from great_expectations.render.view import DefaultJinjaPageView

        from cadence import lake

        html = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(gx_result))
        path = docs_root(settings) / "gx" / source / f"{window.label}.html"
        lake.write_atomic(path, html.encode())
        return str(path)
    except Exception:
        log.warning("could not render the Data Docs page of %s %s", source, window.label, exc_info=True)
        return None


def validation_pages(settings: Settings, limit: int = 200) -> dict[str, list[str]]:
    """Data Docs pages per source, newest window first."""
    folder = docs_root(settings) / "gx"
    if not folder.exists():
        return {}
    pages = {}
    for source in sorted(p for p in folder.iterdir() if p.is_dir()):
        names = sorted((p.name for p in source.iterdir() if p.name.endswith(".html")), reverse=True)
        pages[source.name] = names[:limit]
    return pages
