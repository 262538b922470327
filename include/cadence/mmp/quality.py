"""Validation rules for MMP events, run with Great Expectations through :func:`cadence.quality.validate`.

Rules are row-level, so a broken event is quarantined alone with its reasons. The frame they run on has the
generator's columns (``cadence.mmp.generator.SCHEMA``) plus ``_window_start`` / ``_window_end``: an event
must lie inside the window of its file, which is what lets dbt read a window's files by event time.
Cross-row checks are dbt's: a re-delivered event (same ``event_id``) lands as delivered and staging keeps one
copy, and a click's impression is checked to exist once the events are staged. Organic installs (partner
``organic``) are the only installs without a click, and cost nothing.
"""

from __future__ import annotations

from cadence.config import Settings
from cadence.mmp.generator import EVENT_TYPES, ORGANIC_PARTNER
from cadence.quality import Rule

REQUIRED = [
    "event_id",
    "event_type",
    "event_time",
    "partner",
    "platform",
    "country",
    "campaign_id",
    "cost_usd",
]
CONVERSION = 'event_type in ("install", "reinstall")'
ATTRIBUTED = f'event_type == "reinstall" or (event_type == "install" and partner != "{ORGANIC_PARTNER}")'
ORGANIC = f'partner == "{ORGANIC_PARTNER}"'


def _in_set(column: str, values) -> Rule:
    return Rule(
        f"{column} not allowed", "ExpectColumnValuesToBeInSet", {"column": column, "value_set": list(values)}
    )


def _required_when(column: str, condition: str, what: str) -> Rule:
    return Rule(
        f"{what} without {column}",
        "ExpectColumnValuesToNotBeNull",
        {"column": column, "row_condition": condition, "condition_parser": "pandas"},
    )


def event_rules(settings: Settings) -> list[Rule]:
    return [
        *[Rule(f"{c} is null", "ExpectColumnValuesToNotBeNull", {"column": c}) for c in REQUIRED],
        _in_set("event_type", EVENT_TYPES),
        _in_set("partner", [*settings.mmp.partner_weights, ORGANIC_PARTNER]),
        _in_set("platform", settings.quality.platforms),
        _in_set("country", settings.quality.countries),
        Rule("cost_usd is negative", "ExpectColumnValuesToBeBetween", {"column": "cost_usd", "min_value": 0}),
        _required_when("impression_id", 'event_type == "click"', "click"),
        _required_when("click_id", ATTRIBUTED, "attributed install"),
        _required_when("user_id", CONVERSION, "install"),
        Rule(
            "organic event not an install",
            "ExpectColumnValuesToBeInSet",
            {
                "column": "event_type",
                "value_set": ["install"],
                "row_condition": ORGANIC,
                "condition_parser": "pandas",
            },
        ),
        Rule(
            "organic install with a click",
            "ExpectColumnValuesToBeNull",
            {"column": "click_id", "row_condition": ORGANIC, "condition_parser": "pandas"},
        ),
        Rule(
            "event_time before its window",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "event_time", "column_B": "_window_start", "or_equal": True},
        ),
        Rule(
            "event_time after its window",
            "ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "_window_end", "column_B": "event_time"},
        ),
    ]
