"""Imported last by the scheduler's forkserver (``[core] mp_forkserver_preload``, see cadence.preload):
moves everything loaded so far out of the garbage collector's view, as Airflow does itself before it forks
workers the classic way. The LocalExecutor workers and their task processes inherit the frozen state, so a
full ``gc.collect()`` in a task (Cosmos runs one after every dbt invocation) scans what the task created,
not the ~1 million objects of the preloaded libraries (~0.3-0.5 s each time), and those pages stay shared."""

import gc

gc.freeze()
