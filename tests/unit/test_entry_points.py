"""Every CLI is an installed console script whose usage line names the command you typed."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_every_cli_is_a_console_script():
    assert {"cadence-simulate", "cadence-mmp", "cadence-workbook", "cadence-monitor"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_the_console_script_runs_and_names_itself(name, capsys):
    module, function = SCRIPTS[name].split(":")
    entry = getattr(importlib.import_module(module), function)
    with pytest.raises(SystemExit) as exit_:
        entry(["--help"]) if function == "main" else _with_argv(entry, name)
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {name} ")


def _with_argv(entry, name):
    import sys

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [name, "--help"])
        entry()
