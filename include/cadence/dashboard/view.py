"""The dashboard's charts as data: the published snapshot, filtered by date range, country and platform.

Pure Python over the snapshot's rows (a few thousand), so the page's numbers are testable without a
browser. Additive measures are summed over the selected slices; ratios are recomputed from their sums
(ARPDAU = revenue / DAU, retention = retained / cohort, CTR = clicks / impressions, CPI = spend / installs),
never averaged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

ALL = "all"
KPIS = ("dau", "new_installs", "revenue_usd", "arpdau", "paying_users", "retention_d1", "retention_d7")


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None  # inclusive
    country: str = ALL
    platform: str = ALL

    def day_ok(self, value: str | None) -> bool:
        if value is None:
            return False
        day = date.fromisoformat(str(value)[:10])
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def slice_ok(self, row: dict, *, country: str = "country", platform: str = "platform") -> bool:
        return (self.country == ALL or row.get(country) == self.country) and (
            self.platform == ALL or row.get(platform) == self.platform
        )


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def daily_kpis(rows: list[dict], anomalies: list[dict], filters: Filters) -> dict:
    """One series per KPI over the days, and the anomaly flags of the selected slice."""
    whole = filters.country == ALL and filters.platform == ALL
    days: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        if not filters.day_ok(row["kpi_date"]):
            continue
        is_total = row["country"] == ALL and row["platform"] == ALL
        if whole != is_total or (not whole and (row["country"] == ALL or not filters.slice_ok(row))):
            continue
        sums = days[str(row["kpi_date"])[:10]]
        for measure in ("dau", "new_installs", "revenue_usd", "paying_users"):
            sums[measure] += row.get(measure) or 0
        for horizon in ("d1", "d7"):
            if row.get(f"retention_{horizon}") is not None:  # only complete cohorts count
                sums[f"retained_{horizon}"] += row.get(f"retained_{horizon}") or 0
                sums[f"cohort_{horizon}"] += row.get("new_installs") or 0
    dates = sorted(days)
    series: dict[str, list] = {kpi: [] for kpi in KPIS}
    for day in dates:
        sums = days[day]
        series["dau"].append(sums["dau"])
        series["new_installs"].append(sums["new_installs"])
        series["revenue_usd"].append(round(sums["revenue_usd"], 2))
        series["arpdau"].append(_ratio(sums["revenue_usd"], sums["dau"]))
        series["paying_users"].append(sums["paying_users"])
        series["retention_d1"].append(_ratio(sums["retained_d1"], sums["cohort_d1"]))
        series["retention_d7"].append(_ratio(sums["retained_d7"], sums["cohort_d7"]))
    wanted_slice = ALL if whole else f"{filters.country}/{filters.platform}"
    flags: dict[str, list[dict]] = defaultdict(list)
    for anomaly in anomalies:
        day = str(anomaly["kpi_date"])[:10]
        if anomaly["slice"] == wanted_slice and day in days and anomaly["kpi"] in series:
            value = series[anomaly["kpi"]][dates.index(day)]
            flags[anomaly["kpi"]].append(
                {"date": day, "value": value, "rule": anomaly["rule"], "severity": anomaly["severity"]}
            )
    return {"dates": dates, "series": series, "anomalies": dict(flags)}


def gold_by_hour(rows: list[dict], filters: Filters) -> dict:
    """Revenue and spins per hour of day (summed over the selected days), one series per country.

    Gold has no platform: the platform filter does not apply to it."""
    revenue: dict[str, list[float]] = defaultdict(lambda: [0.0] * 24)
    spins: dict[str, list[float]] = defaultdict(lambda: [0.0] * 24)
    for row in rows:
        if not filters.day_ok(row["app_date"]) or filters.country not in (ALL, row["country"]):
            continue
        hour = int(row["app_hour"]) % 24
        revenue[row["country"]][hour] += row.get("revenue") or 0
        spins[row["country"]][hour] += row.get("spins") or 0
    countries = sorted(revenue)
    return {
        "hours": list(range(24)),
        "revenue": {c: [round(v, 2) for v in revenue[c]] for c in countries},
        "spins": {c: spins[c] for c in countries},
    }


def mmp_by_partner(ctr_rows: list[dict], cpi_rows: list[dict], filters: Filters) -> dict:
    """CTR and CPI per partner x platform over the selected days and slice."""
    clicks, impressions = defaultdict(float), defaultdict(float)
    spend, installs = defaultdict(float), defaultdict(float)
    for row in ctr_rows:
        if filters.day_ok(row["period_start"]) and filters.slice_ok(row):
            key = (row["partner"], row["platform"])
            clicks[key] += row.get("clicks") or 0
            impressions[key] += row.get("impressions") or 0
    for row in cpi_rows:
        if filters.day_ok(row["period_start"]) and filters.slice_ok(row):
            key = (row["partner"], row["platform"])
            spend[key] += row.get("total_spend_usd") or 0
            installs[key] += row.get("installs") or 0
    partners = sorted({key[0] for key in (*impressions, *installs)})
    platforms = sorted({key[1] for key in (*impressions, *installs)})
    return {
        "partners": partners,
        "ctr": {p: [_ratio(clicks[(x, p)], impressions[(x, p)]) for x in partners] for p in platforms},
        "cpi": {p: [_ratio(spend[(x, p)], installs[(x, p)]) for x in partners] for p in platforms},
    }


def options(tables: dict[str, list[dict]]) -> dict:
    """What the filters offer: the countries and platforms of the snapshot, and its first/last day."""
    kpis = tables.get("daily_kpis", [])
    countries = {r["country"] for r in kpis} | {r["country"] for r in tables.get("gold_hourly", [])}
    platforms = {r["platform"] for r in kpis} | {r["platform"] for r in tables.get("mmp_ctr", [])}
    days = sorted(str(r["kpi_date"])[:10] for r in kpis) or sorted(
        str(r["app_date"])[:10] for r in tables.get("gold_hourly", [])
    )
    return {
        "countries": sorted(countries - {ALL, None}),
        "platforms": sorted(platforms - {ALL, None}),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
    }


def charts(tables: dict[str, list[dict]], filters: Filters) -> dict:
    """Everything the page draws for these filters."""
    return {
        "kpis": daily_kpis(tables.get("daily_kpis", []), tables.get("kpi_anomalies", []), filters),
        "gold": gold_by_hour(tables.get("gold_hourly", []), filters),
        "mmp": mmp_by_partner(tables.get("mmp_ctr", []), tables.get("mmp_cpi", []), filters),
        "health": tables.get("pipeline_health", []),
    }
