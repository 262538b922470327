"""Validating a landing's chunks together (one Great Expectations run) gives each chunk exactly what
validating it alone gives: the same valid rows, the same quarantined rows and reasons, the same counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from tests.support.data import extracted_purchases, purchase_row

pytestmark = pytest.mark.unit


def purchase(number: int, minute: int, **changes) -> dict:
    return purchase_row(number, datetime(2026, 11, 30, 10, minute, tzinfo=UTC), **changes)


def chunk(*rows: dict) -> pd.DataFrame:
    from cadence.config import load_settings

    return extracted_purchases(load_settings(), *rows)


def chunks() -> list[pd.DataFrame]:
    return [
        chunk(
            purchase(1, 0),
            purchase(1, 0),  # a duplicate delivery: the second copy is quarantined
            purchase(2, 1, country="XX"),
            purchase(3, 2, updated_at="yesterday", platform="web"),  # two broken rules
        ),
        chunk(),  # a quiet chunk
        chunk(purchase(4, 5), purchase(5, 6, revenue_usd=None), purchase(4, 5), purchase(4, 5)),
        chunk(purchase(6, 7), purchase(7, 8, status="pending", revenue_usd=900.0)),
    ]


def test_each_chunk_gets_what_validating_it_alone_gives():
    from cadence.config import load_settings
    from cadence.quality import validate, validate_parts
    from cadence.sources import purchases_spec

    rules = purchases_spec(load_settings()).rules
    together = validate_parts(chunks(), "purchases", rules)
    assert len(together) == 4 and len({id(result.gx_result) for result in together}) == 1  # one GX run
    for part, joint in zip(chunks(), together, strict=True):
        alone = validate(part, "purchases", rules)
        pd.testing.assert_frame_equal(joint.valid, alone.valid)
        pd.testing.assert_frame_equal(joint.quarantined, alone.quarantined)
        assert joint.rule_failures == alone.rule_failures
    assert [len(result.quarantined) for result in together] == [3, 0, 3, 1]
    assert set(together[0].quarantined["_reject_reason"].tolist()[-1].split("; ")) == {
        "updated_at is not a %Y-%m-%dT%H:%M:%SZ timestamp",
        "platform not allowed",
    }


def test_a_reason_cannot_hold_the_separator_of_reasons():
    from cadence.quality import Rule

    with pytest.raises(ValueError, match="must not contain"):
        Rule("null; or empty", "ExpectColumnValuesToNotBeNull", {"column": "x"})
