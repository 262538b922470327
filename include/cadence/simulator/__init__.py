"""The game backend simulator: writes realistic, imperfect source data through an Airflow connection."""
