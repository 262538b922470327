"""A cheaper way for dbt-common to name the module behind a behaviour flag, for the test processes.

dbt-common 1.39 labels each behaviour flag with the module that declared it by walking
``inspect.stack()`` (``BehaviorFlagRendered._default_source``), and evaluates that label even when the flag
names its source. ``inspect.stack()`` reads the source lines of every frame on the stack and scans
``sys.modules`` for each one; dbt renders every project and adapter flag on every invocation, so under
``dag.test()``'s deep stacks (pytest, Airflow's in-process supervisor, Cosmos) this took 3-9 % of a dags
module's CPU. The label only ends up in a deprecation event; the frames' globals give the same module
name without reading a file. Worth reporting upstream; not patched in the product.
"""

from __future__ import annotations

import sys


def _declaring_module() -> str:
    from dbt_common import behavior_flags

    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if name and name != behavior_flags.__name__:
            return name
        frame = frame.f_back
    return "Unknown"


def label_flags_without_reading_sources() -> None:
    """Replace dbt-common's stack walk (see the module docstring) in this process."""
    from dbt_common.behavior_flags import BehaviorFlagRendered

    BehaviorFlagRendered._default_source = staticmethod(_declaring_module)
