"""The locked pytest and pytest-xdist still honour ``xdist_group``, which ``make test`` relies on.

The modules that run a scheduler are one group per lane (tests/conftest.py) so that no more stacks run at
once than there are lanes, and modules that build an expensive fixture once are groups of their own.
pytest 9.2 moved node ids where pytest-xdist 3.8 writes the group (pytest-dev/pytest-xdist#1386): every
group was silently ignored, two Celery stacks started at once on 2 cores and timed out. A re-lock that
brings that back fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

CONFTEST = """
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tagged" in item.name:
            item.add_marker(pytest.mark.xdist_group("tagged"))
"""
MODULE = """
import pytest

@pytest.mark.xdist_group("marked")
@pytest.mark.parametrize("i", range(4))
def test_marked(i):
    pass

@pytest.mark.parametrize("i", range(4))
def test_tagged(i):
    pass

@pytest.mark.parametrize("i", range(8))
def test_free(i):
    pass
"""


def test_a_group_runs_on_one_worker_whether_marked_or_tagged_by_a_conftest(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_a.py").write_text(MODULE)
    (tmp_path / "test_b.py").write_text(MODULE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    workers: dict[str, set[str]] = {}
    for worker, name in re.findall(r"\[(gw\d)\].*PASSED \S+::test_(\w+)\[", result.stdout):
        workers.setdefault(name, set()).add(worker)
    assert set(workers) == {"marked", "tagged", "free"}, result.stdout
    assert len(workers["marked"]) == 1, f"the xdist_group mark was ignored: {workers}"
    assert len(workers["tagged"]) == 1, f"the group a conftest adds was ignored: {workers}"
