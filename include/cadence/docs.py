"""Documentation the pipeline keeps current in the lake, for the links in the Airflow UI.

- dbt docs: ``daily_kpis`` ends with Cosmos's ``DbtDocsLocalOperator`` (``dbt docs generate``), whose
  callback copies ``index.html``, ``manifest.json`` and ``catalog.json`` to ``<lake>/docs/dbt``; Cosmos's
  plugin serves that folder (``[cosmos] dbt_docs_projects``, set by :mod:`cadence.local`).
- Great Expectations Data Docs: every validation of a cadence (purchases, spins, mmp) is rendered by GX's
  own Data Docs renderer to ``<lake>/docs/gx/<source>/<window>.html``, ``<window>`` being the span it
  validated at once (one chunk or several: :func:`cadence.ingest.ingest`); the Cadence plugin lists and serves
  them at ``/cadence/data-docs/``. GX's pages load Bootstrap, jQuery, Vega and more from CDNs; the plugin
  points those at the same files installed from npm (``assets/data-docs``: :data:`DATA_DOCS_ASSETS`), so
  a page renders without internet.
Both go through ``ObjectStoragePath``, so they land in gs:// in production as they do in file:// here.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

from cadence.config import PROJECT_ROOT, Settings
from cadence.lake import Window

log = logging.getLogger(__name__)

DBT_DOCS_FILES = ("index.html", "manifest.json", "catalog.json")

#: Where ``make install`` (and the image) put the npm packages of ``assets/data-docs/package.json``.
ASSETS_DIR = PROJECT_ROOT / "assets" / "data-docs" / "node_modules"

#: The CDN addresses a GX Data Docs page loads files from, and the npm package folder (at the version
#: package.json pins, the one the address names) holding the same files under the rest of the path. A test
#: fails when a GX upgrade loads a file from elsewhere.
DATA_DOCS_ASSETS = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/": "bootstrap/dist/",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/": "bootstrap/dist/",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/": "popper.js/dist/",
    "https://unpkg.com/bootstrap-table@1.19.1/": "bootstrap-table/",
    "https://unpkg.com/bootstrap-table@1.19.0/": "bootstrap-table/",  # one stylesheet, from 1.19.1 here
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/": "bootstrap-datepicker/dist/",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/": "@fortawesome/fontawesome-free/",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/": "@forevolve/bootstrap-dark/",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
    # GX's logo, fetched with a tracking query string; the GX package ships the same images
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/": "great_expectations/images/",
}
GX_IMAGES = "great_expectations/images"
_LOADED = re.compile(r'(?P<attribute>(?:src|href)=")(?P<url>https://[^"?]+)(?:\?[^"]*)?"')


def docs_root(settings: Settings):
    from cadence import lake

    return lake.root(settings) / "docs"


def cosmos_docs_projects(settings: Settings) -> dict:
    """``[cosmos] dbt_docs_projects``: Cosmos's dbt docs view on the site the pipeline publishes, read
    through the lake's connection on a remote lake (make up, compose; README: Cloud Composer)."""
    project = {"dir": dbt_docs_dir(settings), "name": "dbt docs (Cadence)"}
    if settings.lake_conn_id and not settings.lake_url.startswith("file://"):
        project["conn_id"] = settings.lake_conn_id
    return {"cadence": project}


def dbt_docs_dir(settings: Settings) -> str:
    """Where Cosmos's docs plugin reads the published dbt site (``[cosmos] dbt_docs_projects``): the lake's
    ``docs/dbt``, as a plain path on a local lake, since the plugin reads object-store URLs (gs://, s3://)
    through ObjectStoragePath and anything else with ``open()``, to which file:// is no path."""
    return f"{settings.lake_local_path.rstrip('/')}/docs/dbt"


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


def asset_path(url: str) -> str | None:
    """Where the file a CDN ``url`` serves lies among the asset packages (None: not one of theirs)."""
    for prefix, path in DATA_DOCS_ASSETS.items():
        if url == prefix or (prefix.endswith("/") and url.startswith(prefix)):
            return path + url[len(prefix) :]
    return None


def offline_page(html: str, assets_url: str, assets_dir: Path = ASSETS_DIR) -> str:
    """A Data Docs page with each CDN file it loads pointed at ``assets_url``/<path> where that file is
    installed (one not installed keeps its CDN address: the page still renders online)."""

    def local(match: re.Match) -> str:
        path = asset_path(match["url"])
        if path is None or asset_file(path, assets_dir) is None:
            return match[0]
        return f'{match["attribute"]}{assets_url}/{path}"'

    return _LOADED.sub(local, html)


@functools.cache
def _asset_roots(assets_dir: Path) -> dict[str, Path]:
    """The folders assets are served from (resolved), by the path prefix naming them: each npm package, and
    the images inside the installed GX package (located without importing it: the api-server stays light).
    Computed once per folder: a served page looks up every file it loads."""
    from importlib.util import find_spec

    roots = {}
    for path in DATA_DOCS_ASSETS.values():
        if not path.startswith(GX_IMAGES):
            package = "/".join(path.split("/")[: 2 if path.startswith("@") else 1])
            roots[package] = (assets_dir / package).resolve()
    gx = find_spec("great_expectations")
    images = Path(gx.submodule_search_locations[0]) / "render" / "view" / "static" / "images"
    roots[GX_IMAGES] = images.resolve()
    return roots


def asset_file(path: str, assets_dir: Path = ASSETS_DIR) -> Path | None:
    """The installed file at ``path`` inside one of the asset folders (stylesheets load their fonts by
    relative URLs), or None; nothing outside those folders is ever served."""
    for prefix, root in _asset_roots(assets_dir).items():
        if path.startswith(prefix + "/"):
            resolved = (root / path[len(prefix) + 1 :]).resolve()
            if resolved.is_relative_to(root) and resolved.is_file():
                return resolved
    return None
