"""The dashboard's web app: one page and its data, served inside the Airflow UI by the Cadence plugin.

Charts are drawn in the browser by Plotly.js, served from the ``plotly`` Python package (which ships
``plotly.min.js``), so the page works offline and needs no CDN. The page fetches ``data`` with the
filters, and every filter change redraws the charts from a new fetch.
"""

from __future__ import annotations

import importlib.resources
import re
from datetime import date
from html import escape
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from cadence.dashboard import snapshot, view

PAGE = Path(__file__).with_name("page.html")
SAFE_NAME = re.compile(r"[A-Za-z0-9_.:+-]+")


def _plotly_js() -> Path:
    return Path(str(importlib.resources.files("plotly") / "package_data" / "plotly.min.js"))


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name} {value!r} is not a date such as 2026-03-01") from None


def create_app() -> FastAPI:
    app = FastAPI(title="Cadence dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/dashboard", response_class=HTMLResponse, name="page")
    def page(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        html = PAGE.read_text().replace("{{ROOT}}", root)
        return HTMLResponse(html)

    @app.get("/dashboard/plotly.min.js", name="plotly")
    def plotly_js() -> Response:
        return FileResponse(_plotly_js(), media_type="text/javascript")

    @app.get("/dashboard/data", name="data")
    def data(
        start: str | None = Query(None),
        end: str | None = Query(None),
        country: str = Query(view.ALL),
        platform: str = Query(view.ALL),
    ) -> dict:
        from cadence.config import get_settings

        filters = view.Filters(
            _day(start, "start"), _day(end, "end"), country or view.ALL, platform or view.ALL
        )
        manifest, tables = snapshot.read(get_settings())
        return {"snapshot": manifest, "options": view.options(tables), **view.charts(tables, filters)}

    @app.get("/data-docs/", response_class=HTMLResponse, name="data_docs_index")
    def data_docs_index(request: Request) -> HTMLResponse:
        from cadence import docs
        from cadence.config import get_settings

        root = request.scope.get("root_path", "").rstrip("/")
        pages = docs.validation_pages(get_settings())
        sections = []
        for source, names in pages.items():
            links = [f'<li><a href="{root}/data-docs/{source}/{n}">{escape(n[:-5])}</a></li>' for n in names]
            sections.append(f"<h2>{escape(source)}</h2><ul>{''.join(links)}</ul>")
        body = "".join(sections) or "<p>No validation yet: pages appear after the first landing.</p>"
        return HTMLResponse(
            "<!doctype html><title>Cadence Data Docs</title><h1>Great Expectations Data Docs</h1>"
            f"<p>One page per validated window (newest first), kept in the lake.</p>{body}"
        )

    @app.get("/data-docs/{source}/{name}", response_class=HTMLResponse, name="data_docs_page")
    def data_docs_page(request: Request, source: str, name: str) -> HTMLResponse:
        from cadence import docs
        from cadence.config import get_settings

        if not (SAFE_NAME.fullmatch(source) and SAFE_NAME.fullmatch(name) and name.endswith(".html")):
            raise HTTPException(404, "no such Data Docs page")
        path = docs.docs_root(get_settings()) / "gx" / source / name
        if not path.exists():
            raise HTTPException(404, f"no Data Docs page {source}/{name}")
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(docs.offline_page(path.read_text(), f"{root}/data-docs/assets"))

    @app.get("/data-docs/assets/{path:path}", name="data_docs_asset")
    def data_docs_asset(path: str) -> Response:
        from cadence import docs

        found = docs.asset_file(path)
        if found is None:
            raise HTTPException(404, f"no Data Docs asset {path}")
        return FileResponse(found)

    return app
