"""Celery configuration of Cadence's workers (``[celery] celery_config_options``): Airflow's default, plus
the task libraries imported in the worker's main process before it forks its pool (see cadence.preload)."""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

from cadence.preload import TASK_LIBRARIES

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": TASK_LIBRARIES}
