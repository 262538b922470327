"""The analysts' dashboard: a snapshot the pipeline publishes into the lake, and one page that charts it.

- :mod:`snapshot`: the dashboard tables, queried from the warehouse (DuckDB or BigQuery, standard SQL) by
  a task at the end of ``spins`` and ``daily_kpis`` and written as JSON into the lake
  (``<lake>/dashboard/``), so the page never opens the warehouse (nor DuckDB's single-writer lock);
- :mod:`view`: reading the snapshot and filtering it (date range, country, platform) into chart series;
- :mod:`app`: the FastAPI app the Airflow plugin (``plugins/cadence_ui.py``) serves at ``/cadence``.
"""
