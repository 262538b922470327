"""Cadence inside the Airflow UI: the analysts' dashboard and the Great Expectations Data Docs.

Airflow 3 serves a plugin's FastAPI app under its ``url_prefix`` on the api-server, and lists its
``external_views`` in the UI's navigation (Browse). The dbt docs link is Cosmos's own plugin
(``[cosmos] dbt_docs_projects``, set by ``cadence.local``).
"""

from functools import cached_property

from airflow.plugins_manager import AirflowPlugin


class CadenceUiPlugin(AirflowPlugin):
    name = "cadence_ui"
    external_views = [
        {"name": "Analysts' dashboard", "href": "/cadence/dashboard", "category": "Browse"},
        {"name": "Data Docs (Great Expectations)", "href": "/cadence/data-docs/", "category": "Browse"},
    ]

    @cached_property
    def fastapi_apps(self) -> list[dict]:
        """Built where it is served: every task process loads the plugins too, and building the app there
        (FastAPI, the dashboard's routes) cost ~0.3 s of CPU per task."""
        from cadence.dashboard.app import create_app

        return [{"app": create_app(), "url_prefix": "/cadence", "name": "Cadence"}]
