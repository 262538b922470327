"""Build the dbt manifest that Cosmos renders the DAGs from, and tell whether the committed one is stale.

Rendering from a manifest (``LoadMode.DBT_MANIFEST``) keeps DAG parsing free of dbt runs. The manifest is
committed, so it must change whenever a model, test or their config changes: ``make manifest`` rewrites it
and a test fails when it no longer matches the project.

    python -m cadence.dbt_manifest --write   # rebuild dbt/manifest/manifest.json
    python -m cadence.dbt_manifest --check   # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from cadence.config import get_settings
from cadence.dbt_group import MANIFEST_PATH

#: What the committed manifest keeps: what Cosmos renders the task groups from (cosmos.dbt.graph reads nodes,
#: sources, exposures, metadata and selectors) and the unit tests the staleness check compares. dbt's
#: macros, docs and node maps were more than half of the file, and every Cosmos group of every DAG parse
#: (the dag-processor's, each task's, each dag.test()) decodes the file again.
RENDERED_SECTIONS = ("metadata", "nodes", "sources", "exposures", "unit_tests", "selectors")

# Paths baked into the manifest at parse time are placeholders, so it does not depend on the machine.
_PARSE_ENV = {"DBT_LAKE_ROOT": "/lake", "DBT_LAKE_URL": "file:///lake", "DBT_TARGET": "duckdb"}


def build(project_dir: Path) -> dict:
    """Parse the dbt project (no warehouse connection needed) and return its :data:`RENDERED_SECTIONS`."""
    from dbt.cli.main import dbtRunner

    with tempfile.TemporaryDirectory() as scratch:
        os.environ.update(_PARSE_ENV | {"DBT_DUCKDB_PATH": f"{scratch}/parse.duckdb"})
        result = dbtRunner().invoke(
            [
                "parse",
                "--project-dir",
                str(project_dir),
                "--profiles-dir",
                str(project_dir),
                "--target-path",
                f"{scratch}/target",
                "--no-partial-parse",
                "--quiet",
            ]
        )
        if not result.success:
            raise RuntimeError(f"dbt parse failed: {result.exception}")
        manifest = json.loads(Path(scratch, "target", "manifest.json").read_text())
    return {section: manifest[section] for section in RENDERED_SECTIONS if section in manifest}


def _checksum(node: dict) -> str | None:
    checksum = node.get(
        "checksum"
    )  # a dict for models and tests, a string for unit tests, absent for sources
    return checksum.get("checksum") if isinstance(checksum, dict) else checksum


def fingerprint(manifest: dict) -> dict:
    """What Cosmos renders from: every node's identity, code checksum, dependencies and config."""
    return {
        unique_id: {
            "checksum": _checksum(node),
            "depends_on": sorted(node.get("depends_on", {}).get("nodes", [])),
            "tags": sorted(node.get("tags", [])),
            "materialized": node.get("config", {}).get("materialized"),
            "path": node.get("original_file_path"),
        }
        for section in ("nodes", "sources", "unit_tests")
        for unique_id, node in manifest.get(section, {}).items()
    }


def committed_path(project_dir: Path) -> Path:
    return project_dir / MANIFEST_PATH


def stale_nodes(project_dir: Path) -> list[str]:
    """Node ids whose committed rendering differs from the project as it is now (empty when current), and
    the sections the committed file holds beyond :data:`RENDERED_SECTIONS`."""
    path = committed_path(project_dir)
    if not path.exists():
        return ["<no committed manifest>"]
    manifest = json.loads(path.read_text())
    fresh, committed = fingerprint(build(project_dir)), fingerprint(manifest)
    extra = [f"<section {name}>" for name in sorted(set(manifest) - set(RENDERED_SECTIONS))]
    return sorted(k for k in fresh.keys() | committed.keys() if fresh.get(k) != committed.get(k)) + extra


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rebuild the committed manifest")
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed manifest is stale")
    args = parser.parse_args(argv)
    project_dir = get_settings().dbt_project_dir
    if args.write:
        manifest = build(project_dir)
        path = committed_path(project_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        shutil.rmtree(project_dir / "target", ignore_errors=True)
        print(f"wrote {path} ({len(manifest['nodes'])} nodes)")
    if args.check:
        stale = stale_nodes(project_dir)
        if stale:
            print("dbt manifest is stale, run `make manifest`. Changed: " + ", ".join(stale), file=sys.stderr)
            return 1
        print("dbt manifest is current")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
