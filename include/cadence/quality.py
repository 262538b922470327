"""Row-level validation with Great Expectations: every row ends valid or quarantined with its reasons.

Rules are data (a readable reason, a GX expectation name and its arguments), declared once per source in
``cadence.sources``. GX is imported only inside :func:`validate` because importing it costs ~7 s; DAG
parsing never pays for it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import pandas as pd

ROW_ID = "_row"
REASON = "_reject_reason"
PART = "_part"
SEPARATOR = "; "  # between a quarantined row's reasons


@dataclass(frozen=True)
class Rule:
    """One validation rule: ``reason`` is what a quarantined row records when it breaks the rule."""

    reason: str
    expectation: str  # a class in great_expectations.expectations, e.g. "ExpectColumnValuesToNotBeNull"
    kwargs: dict = field(default_factory=dict)
    keep_first: bool = False  # for uniqueness rules: the first copy is valid, later copies are not

    def __post_init__(self):
        if SEPARATOR in self.reason:
            raise ValueError(f"a rule's reason must not contain {SEPARATOR!r}: {self.reason!r}")


@dataclass(frozen=True)
class ValidationResult:
    valid: pd.DataFrame
    quarantined: pd.DataFrame  # the raw rows plus REASON
    rule_failures: dict[str, int]  # reason -> number of rows breaking the rule
    gx_result: object = None  # the ExpectationSuiteValidationResult, for Data Docs


def _suite(gx, name: str, rules: list[Rule]):
    import great_expectations.expectations as gxe

    return gx.ExpectationSuite(
        name=name,
        expectations=[
            getattr(gxe, rule.expectation)(**rule.kwargs, meta={"reason": rule.reason}) for rule in rules
        ],
    )


def run_expectations(frame: pd.DataFrame, name: str, rules: list[Rule]):
    """Validate ``frame`` (which has a ROW_ID column) and return the GX suite validation result."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    asset = context.data_sources.add_pandas(name).add_dataframe_asset(name)
    batch = asset.add_batch_definition_whole_dataframe(name).get_batch(batch_parameters={"dataframe": frame})
    suite = context.suites.add(_suite(gx, name, rules))
    return batch.validate(
        suite, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": [ROW_ID]}
    )


def validate(frame: pd.DataFrame, name: str, rules: list[Rule]) -> ValidationResult:
    """Split ``frame`` into valid rows and quarantined rows, each quarantined row with every broken rule."""
    frame = frame.reset_index(drop=True)
    frame.insert(0, ROW_ID, range(len(frame)))
    reasons: dict[int, list[str]] = defaultdict(list)
    failures: dict[str, int] = {}
    gx_result = None
    if len(frame):
        gx_result = run_expectations(frame, name, rules)
        by_reason = {rule.reason: rule for rule in rules}
        # GX does not return results in suite order: match each one to its rule through its meta.
        for result in gx_result.results:
            rule = by_reason[result.expectation_config.meta["reason"]]
            if result.exception_info and result.exception_info.get("raised_exception"):
                raise RuntimeError(f"rule {rule.reason!r} could not run: {result.exception_info}")
            rows = [item[ROW_ID] for item in result.result.get("unexpected_index_list") or []]
            if rule.keep_first and rows:
                columns = rule.kwargs["column_list"]
                offenders = frame.loc[frame[ROW_ID].isin(rows)]
                rows = offenders.loc[offenders.duplicated(subset=columns, keep="first"), ROW_ID].tolist()
            failures[rule.reason] = len(rows)
            for row in rows:
                reasons[int(row)].append(rule.reason)

    rejected = frame[ROW_ID].isin(list(reasons))
    quarantined = frame[rejected].copy()
    joined = [SEPARATOR.join(reasons[int(row)]) for row in quarantined[ROW_ID]]
    quarantined[REASON] = pd.Series(joined, index=quarantined.index, dtype="str")  # text even when empty
    return ValidationResult(
        valid=frame[~rejected].drop(columns=ROW_ID).reset_index(drop=True),
        quarantined=quarantined.drop(columns=ROW_ID).reset_index(drop=True),
        rule_failures=failures,
        gx_result=gx_result,
    )


def validate_parts(parts: list[pd.DataFrame], name: str, rules: list[Rule]) -> list[ValidationResult]:
    """:func:`validate` several frames in one Great Expectations run and split the outcome back per frame.

    A GX run costs ~0.3 s whatever its size, so a backfill validates its chunks together. A rule then sees
    all the parts at once: uniqueness rules must have a key no two parts share (ingest's chunks hold
    disjoint change times, and the change time is in every key). Every result carries the one GX result.
    """
    whole = validate(
        pd.concat([part.assign(**{PART: index}) for index, part in enumerate(parts)], ignore_index=True),
        name,
        rules,
    )

    def rows_of(frame: pd.DataFrame, index: int) -> pd.DataFrame:
        return frame[frame[PART] == index].drop(columns=PART).reset_index(drop=True)

    results = []
    for index, part in enumerate(parts):
        quarantined = rows_of(whole.quarantined, index)
        broken = Counter(reason for reasons in quarantined[REASON] for reason in reasons.split(SEPARATOR))
        failures = {rule.reason: broken[rule.reason] for rule in rules} if len(part) else {}
        results.append(ValidationResult(rows_of(whole.valid, index), quarantined, failures, whole.gx_result))
    return results
