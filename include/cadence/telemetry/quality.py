"""Validation rules for flattened telemetry, run with Great Expectations (:func:`cadence.quality.validate`).

The rules run on the flat visits, events and items of every file of a run (chunk) at once: one GX run per
table over the whole batch as a dataframe, never one per file or per event.
A line is quarantined whole when its visit, any of its events or any of their items breaks a rule, so bronze
never holds half a visit. Parse failures (not JSON, wrong types) are found before, by the flattening.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa

from cadence.config import Settings
from cadence.quality import REASON, Rule, validate
from cadence.telemetry.landing import EVENT_TYPES


def _not_null(column: str) -> Rule:
    return Rule(f"{column} is null", "ExpectColumnValuesToNotBeNull", {"column": column})


def _in_set(column: str, values) -> Rule:
    return Rule(
        f"{column} not allowed",
        "ExpectColumnValuesToBeInSet",
        {"column": column, "value_set": list(values)},
    )


def visit_rules(settings: Settings) -> list[Rule]:
    return [
        *[_not_null(c) for c in ("visit_id", "user_id", "device_id", "sent_at", "received_at")],
        _in_set("platform", settings.quality.platforms),
        _in_set("country", settings.quality.countries),
    ]


def event_rules(settings: Settings) -> list[Rule]:
    return [
        *[_not_null(c) for c in ("event_id", "event_type", "client_ts")],
        _in_set("event_type", EVENT_TYPES),
    ]


def item_rules(settings: Settings) -> list[Rule]:
    return [
        _not_null("sku"),
        Rule("quantity below 1", "ExpectColumnValuesToBeBetween", {"column": "quantity", "min_value": 1}),
        Rule(
            "price_usd is negative", "ExpectColumnValuesToBeBetween", {"column": "price_usd", "min_value": 0}
        ),
    ]


def rejected_lines(
    settings: Settings, views: dict[str, pa.Table], names: list[str]
) -> dict[str, dict[int, str]]:
    """``{file: {line: reasons}}`` of the lines breaking a rule: the check that
    :func:`~cadence.telemetry.flatten.flatten_files` runs on the columns the rules read, of all the files of
    a chunk (rows carry their file's position, not its name: a smaller frame for pandas and GX)."""
    checks = [
        ("telemetry_visits", "visits", visit_rules(settings)),
        ("telemetry_events", "events", event_rules(settings)),
        ("telemetry_event_items", "items", item_rules(settings)),
    ]
    reasons: dict[tuple[str, int], set[str]] = defaultdict(set)
    for name, kind, rules in checks:
        table = views[kind]
        if not table.num_rows:
            continue
        columns = [*sorted({r.kwargs.get("column") for r in rules} - {None}), "_file_index", "_line"]
        result = validate(table.select(columns).to_pandas(), name, rules)
        for position, line, reason in zip(
            result.quarantined["_file_index"],
            result.quarantined["_line"],
            result.quarantined[REASON],
            strict=True,
        ):
            reasons[(names[int(position)], int(line))].update(f"{kind}: {r}" for r in reason.split("; "))
    by_file: dict[str, dict[int, str]] = defaultdict(dict)
    for (file, line), found in reasons.items():
        by_file[file][line] = "; ".join(sorted(found))
    return dict(by_file)
