"""KPI anomaly rules: the YAML config (``cadence/kpi_rules.yaml``), validated, and rendered for dbt.

The rules are config, not code: which KPIs of ``kpis.daily_kpis`` are watched, with a day-over-day
threshold and/or a z-score over a trailing baseline, a minimum volume and a severity. The dbt model
``ops.kpi_anomalies`` receives them as the var ``kpi_rules`` (:func:`to_dbt`) and writes one SQL CTE per
rule, so the rules decide the SQL and ``--dry-run`` shows exactly what would run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_RULES_PATH = Path(__file__).resolve().parents[1] / "kpi_rules.yaml"


@dataclass(frozen=True)
class Kpi:
    """A watchable column of ``kpis.daily_kpis``: what measures its volume, and when it becomes final."""

    volume: str
    matures_after_days: int = 0


# The daily_kpis columns rules may watch (a test checks they exist in the built table).
KPIS: dict[str, Kpi] = {
    "dau": Kpi(volume="dau"),
    "new_installs": Kpi(volume="new_installs"),
    "paying_users": Kpi(volume="dau"),
    "revenue_usd": Kpi(volume="dau"),
    "total_spins": Kpi(volume="dau"),
    "arpdau": Kpi(volume="dau"),
    "arppu": Kpi(volume="paying_users"),
    "spins_per_dau": Kpi(volume="dau"),
    "retention_d1": Kpi(volume="new_installs", matures_after_days=1),
    "retention_d7": Kpi(volume="new_installs", matures_after_days=7),
}


class RulesError(ValueError):
    """The KPI rules file cannot be used; the message names the file, the KPI and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ZScore(_Strict):
    """|value - mean| / stddev of the ``baseline_days`` days before, alerting at ``threshold``."""

    baseline_days: int = Field(default=14, ge=2, le=90)
    min_baseline_days: int = Field(default=7, ge=2, le=90)
    threshold: float = Field(default=3.0, gt=0)

    @model_validator(mode="after")
    def _enough_days(self) -> ZScore:
        if self.min_baseline_days > self.baseline_days:
            raise ValueError(
                f"min_baseline_days {self.min_baseline_days} exceeds baseline_days {self.baseline_days}"
            )
        return self


Slices = Literal["all", "segments", "both"]
Severity = Literal["warn", "error"]


class KpiRule(_Strict):
    day_over_day_pct: float | None = Field(default=None, gt=0)
    zscore: ZScore | None = None
    min_volume: float = Field(default=0, ge=0)
    severity: Severity = "warn"
    slices: Slices = "all"

    @model_validator(mode="after")
    def _has_a_rule(self) -> KpiRule:
        if self.day_over_day_pct is None and self.zscore is None:
            raise ValueError("needs day_over_day_pct and/or zscore")
        return self


class _Defaults(_Strict):
    zscore: ZScore = ZScore()
    slices: Slices = "all"


class RuleSet(_Strict):
    defaults: _Defaults = _Defaults()
    kpis: dict[str, KpiRule]

    @field_validator("kpis")
    @classmethod
    def _known_kpis(cls, value: dict[str, KpiRule]) -> dict[str, KpiRule]:
        unknown = sorted(set(value) - set(KPIS))
        if unknown:
            raise ValueError(f"unknown KPI {', '.join(unknown)}; watchable KPIs are {', '.join(KPIS)}")
        return value


def _apply_defaults(raw: dict) -> dict:
    """``zscore: true`` means the default z-score rule; a partial one overrides the defaults field-wise."""
    defaults = raw.get("defaults") or {}
    default_zscore = defaults.get("zscore") or {}
    kpis = {}
    for name, rule in (raw.get("kpis") or {}).items():
        rule = dict(rule or {})
        zscore = rule.get("zscore")
        if zscore is True:
            rule["zscore"] = dict(default_zscore)
        elif zscore is False:
            rule["zscore"] = None
        elif isinstance(zscore, dict):
            rule["zscore"] = {**default_zscore, **zscore}
        rule.setdefault("slices", defaults.get("slices", "all"))
        kpis[name] = rule
    return {**raw, "kpis": kpis}


def _describe(error: ValidationError, path: Path) -> str:
    lines = [
        f"{'.'.join(str(p) for p in item['loc']) or '<file>'}: {item['msg']} (got {item.get('input')!r})"
        for item in error.errors()
    ]
    return f"invalid KPI rules in {path}:\n  " + "\n  ".join(lines)


def load_rules(path: Path | None = None) -> RuleSet:
    """Read and validate the rules file (the packaged one by default)."""
    path = Path(path or DEFAULT_RULES_PATH)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RulesError(f"KPI rules file {path} does not exist") from None
    except yaml.YAMLError as error:
        raise RulesError(f"KPI rules file {path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("kpis"), dict):
        raise RulesError(f"KPI rules file {path} needs a 'kpis' mapping of KPI name to rules")
    try:
        return RuleSet.model_validate(_apply_defaults(raw))
    except ValidationError as error:
        raise RulesError(_describe(error, path)) from None


def to_dbt(rules: RuleSet) -> list[dict]:
    """One flat dict per (KPI, rule type): the var ``kpi_rules`` of ``ops.kpi_anomalies``."""
    flat = []
    for kpi, rule in rules.kpis.items():
        common = {
            "kpi": kpi,
            "volume": KPIS[kpi].volume,
            "matures_after_days": KPIS[kpi].matures_after_days,
            "min_volume": rule.min_volume,
            "severity": rule.severity,
            "slices": rule.slices,
        }
        if rule.day_over_day_pct is not None:
            flat.append(
                {
                    **common,
                    "rule": "day_over_day",
                    "threshold": rule.day_over_day_pct,
                    "baseline_days": 1,
                    "min_baseline_days": 1,
                }
            )
        if rule.zscore is not None:
            flat.append(
                {
                    **common,
                    "rule": "zscore",
                    "threshold": rule.zscore.threshold,
                    "baseline_days": rule.zscore.baseline_days,
                    "min_baseline_days": rule.zscore.min_baseline_days,
                }
            )
    return flat
