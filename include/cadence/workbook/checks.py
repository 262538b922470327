"""Great Expectations rules of the workbook format, the row split they drive, and their Data Docs.

The rules are the workbook's own (its sheets are not the source tables: no platform, no change time, a
revenue text, partial spins rows), written like the cadences' rules in ``cadence.sources``: a readable
reason, an expectation and its arguments. Critical rules quarantine a row; warning rules (non-integer spin
counts) are reported and never change a value. One ephemeral GX context per import holds every validation,
so one Data Docs site shows them all. GX is imported inside :class:`Validator` (it costs seconds).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cadence.config import Settings
from cadence.quality import Rule
from cadence.workbook.mapping import ROW, UNKNOWN_COUNTRY

SITE = "cadence_workbook"


def _not_null(column: str, reason: str) -> Rule:
    return Rule(reason, "ExpectColumnValuesToNotBeNull", {"column": column})


def spins_rules(settings: Settings) -> list[Rule]:
    countries = list(settings.quality.countries)
    in_set, between = "ExpectColumnValuesToBeInSet", "ExpectColumnValuesToBeBetween"
    return [
        _not_null("app_hour", "date is empty or not a date-time"),
        Rule("date is not on the hour", in_set, {"column": "seconds_past_hour", "value_set": [0]}),
        _not_null("user_id", "userId is empty"),
        _not_null("country", "country is empty"),
        Rule("country not in the allowed set", in_set, {"column": "country", "value_set": countries}),
        _not_null("total_spins", "total_spins is empty or not a number"),
        Rule("total_spins is negative", between, {"column": "total_spins", "min_value": 0}),
    ]


SPINS_WARNINGS = [
    Rule(
        "total_spins is not a whole number (kept as delivered, never rounded)",
        "ExpectColumnValuesToBeInSet",
        {"column": "total_spins_fraction", "value_set": [0], "severity": "warning"},
    )
]


def purchases_rules(settings: Settings) -> list[Rule]:
    q = settings.quality
    return [
        _not_null("transaction_id", "transaction_id is empty"),
        _not_null("user_id", "userId is empty"),
        _not_null("purchased_at", "date is empty or not a date-time"),
        _not_null("revenue_usd", "revenue is empty or not 'PriceInUSD=<amount>' in whole cents"),
        Rule(
            f"revenue is outside [0, {q.max_revenue_usd}] USD",
            "ExpectColumnValuesToBeBetween",
            {"column": "revenue_usd", "min_value": 0, "max_value": q.max_revenue_usd},
        ),
        Rule(
            "country is neither an allowed country nor UNKNOWN",
            "ExpectColumnValuesToBeInSet",
            {"column": "country", "value_set": [*q.countries, UNKNOWN_COUNTRY]},
        ),
        Rule(
            "repeats the transaction_id of an earlier row (the purchase counts once)",
            "ExpectColumnValuesToBeUnique",
            {"column": "transaction_id"},
            keep_first=True,
        ),
    ]


@dataclass(frozen=True)
class Split:
    valid: pd.DataFrame
    rejected: pd.DataFrame  # the typed rows that broke a rule, index = position in the sheet
    reasons: pd.Series  # every broken rule of each rejected row, "; "-joined, same index
    failures: dict[str, int]  # reason -> rows breaking it (0 included, so the report lists every rule)


class Validator:
    """One GX context for one import: validations run through ValidationDefinitions (kept for Data Docs)."""

    def __init__(self, run_name: str) -> None:
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier

        self._gx = gx
        self._docs_dir = Path(tempfile.mkdtemp(prefix="cadence-data-docs-"))
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = {"globally": False}
        backend = {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(self._docs_dir)}
        self.context.add_data_docs_site(
            SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": backend,
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        self.run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))

    def _run(self, frame: pd.DataFrame, name: str, rules: list[Rule], result_format):
        import great_expectations.expectations as gxe

        gx = self._gx
        batch = self.context.data_sources.add_pandas(name).add_dataframe_asset(name)
        definition = batch.add_batch_definition_whole_dataframe(name)
        suite = self.context.suites.add(
            gx.ExpectationSuite(
                name=name,
                expectations=[
                    getattr(gxe, rule.expectation)(**rule.kwargs, meta={"reason": rule.reason})
                    for rule in rules
                ],
            )
        )
        validation = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=definition, suite=suite)
        )
        result = validation.run(
            batch_parameters={"dataframe": frame}, result_format=result_format, run_id=self.run_id
        )
        by_reason = {rule.reason: rule for rule in rules}
        for item in result.results:
            if item.exception_info and item.exception_info.get("raised_exception"):
                reason = item.expectation_config.meta["reason"]
                raise RuntimeError(f"rule {reason!r} could not run: {item.exception_info}")
        return [(by_reason[item.expectation_config.meta["reason"]], item) for item in result.results]

    def split(self, frame: pd.DataFrame, name: str, rules: list[Rule]) -> Split:
        """Valid rows and rejected rows (with every broken rule) of ``frame``, rows named by ``ROW``."""
        reasons: dict[int, list[str]] = defaultdict(list)
        failures = {rule.reason: 0 for rule in rules}
        if len(frame):
            result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": [ROW]}
            for rule, item in self._run(frame, name, rules, result_format):
                rows = [entry[ROW] for entry in item.result.get("unexpected_index_list") or []]
                if rule.keep_first and rows:
                    offenders = frame.loc[frame[ROW].isin(rows)]
                    column = rule.kwargs["column"]
                    rows = offenders.loc[offenders.duplicated(subset=[column], keep="first"), ROW].tolist()
                failures[rule.reason] = len(rows)
                for row in rows:
                    reasons[int(row)].append(rule.reason)
        order = [rule.reason for rule in rules]
        is_rejected = frame[ROW].isin(list(reasons))
        rejected = frame[is_rejected]
        joined = pd.Series(
            ["; ".join(sorted(reasons[int(row)], key=order.index)) for row in rejected[ROW]],
            index=rejected.index,
            dtype=object,
        )
        return Split(frame[~is_rejected], rejected, joined, failures)

    def warnings(self, frame: pd.DataFrame, name: str, rules: list[Rule]) -> dict[str, int]:
        """Rows breaking each warning rule (counts only: nothing is quarantined or changed)."""
        if not len(frame):
            return {rule.reason: 0 for rule in rules}
        return {
            rule.reason: int(item.result.get("unexpected_count") or 0)
            for rule, item in self._run(frame, name, rules, "SUMMARY")
        }

    def write_docs(self, write_file) -> str:
        """Build the Data Docs site and hand each file to ``write_file(relative_path, bytes)``.

        Returns the relative path of the index page. The site is built in a private temporary folder, so a
        rerun never mixes in an earlier run's pages.
        """
        self.context.build_data_docs(site_names=[SITE])
        for path in sorted(self._docs_dir.rglob("*")):
            if path.is_file():
                write_file(path.relative_to(self._docs_dir).as_posix(), path.read_bytes())
        return "index.html"

    def close(self) -> None:
        shutil.rmtree(self._docs_dir, ignore_errors=True)
