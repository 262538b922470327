"""Cadence configuration: one typed, validated place for every setting.

Every value has a default that runs the embedded local stack. Any value can be overridden with an
environment variable named after it: ``CADENCE_<FIELD>`` at the top level and ``CADENCE_<SECTION>__<FIELD>``
inside a section (e.g. ``CADENCE_PURCHASES__LOOKBACK=PT15M``, ``CADENCE_SIMULATOR__SEED=7``). Durations
accept ISO 8601 (``PT10M``) or seconds. A bad value raises ``ConfigError`` naming the variable to fix.
"""

from __future__ import annotations

import functools
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENV_PREFIX = "CADENCE_"


# Who plays the game, by share: the simulated population (simulator.population) and the MMP defaults.
COUNTRY_WEIGHTS: dict[str, float] = {
    "US": 0.30,
    "GB": 0.08,
    "DE": 0.09,
    "FR": 0.06,
    "BR": 0.12,
    "JP": 0.07,
    "IN": 0.14,
    "CA": 0.05,
    "AU": 0.04,
    "MX": 0.05,
}
PLATFORM_WEIGHTS: dict[str, float] = {"ios": 0.4, "android": 0.6}


class ConfigError(ValueError):
    """A setting has a value Cadence cannot run with; the message names the variable and the problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CadenceSettings(_Section):
    """How one ingestion cadence runs: its schedule, how far back it re-reads, when it counts as stale."""

    schedule: str = Field(description="cron expression of the data interval")
    lookback: timedelta = Field(description="extra change-time re-read before each window (commit lag)")
    freshness_limit: timedelta = Field(
        description="stale when no bronze row changed within this before the run's window end"
    )
    backfill_chunk: timedelta = Field(description="a backfill range is processed in windows of this size")
    dagrun_timeout: timedelta
    retries: int = Field(default=1, ge=0, le=10)
    retry_delay: timedelta = timedelta(minutes=1)

    @field_validator("lookback", "freshness_limit", "backfill_chunk", "dagrun_timeout", "retry_delay")
    @classmethod
    def _non_negative(cls, value: timedelta) -> timedelta:
        if value < timedelta(0):
            raise ValueError("must not be negative")
        return value

    @field_validator("backfill_chunk", "dagrun_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be greater than zero")
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter  # an Airflow dependency; imported lazily to keep config import light

        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value


class PurchasesCadence(CadenceSettings):
    """The 5-minute purchases cadence."""

    schedule: str = "*/5 * * * *"
    lookback: timedelta = timedelta(minutes=10)
    freshness_limit: timedelta = timedelta(minutes=30)
    backfill_chunk: timedelta = timedelta(hours=1)
    dagrun_timeout: timedelta = timedelta(minutes=8)


class SpinsCadence(CadenceSettings):
    """The hourly spins cadence; it also builds gold."""

    schedule: str = "0 * * * *"
    lookback: timedelta = timedelta(hours=1)
    freshness_limit: timedelta = timedelta(hours=2)
    backfill_chunk: timedelta = timedelta(hours=1)
    dagrun_timeout: timedelta = timedelta(minutes=60)


class MmpCadence(CadenceSettings):
    """The MMP cadence (hourly by default; ``CADENCE_MMP_CADENCE__SCHEDULE='0 0 * * *'`` for daily).

    Each window is one file: a backfill lands whole schedule intervals, the same files the schedule writes,
    validated ``backfill_chunk`` at a time. Generated events have no change time, so nothing is re-read.
    """

    schedule: str = "0 * * * *"
    lookback: timedelta = timedelta(0)
    freshness_limit: timedelta = timedelta(hours=2)
    backfill_chunk: timedelta = timedelta(days=7)  # one validation per week of windows (~20k events)
    dagrun_timeout: timedelta = timedelta(minutes=60)


class DailyKpisCadence(CadenceSettings):
    """The daily KPIs cadence: installs, last activity, the daily user panel, daily KPIs and monitoring.

    Each scheduled run recomputes its data-interval day and the ``trailing_days`` before it, so late data
    settles; a backfill recomputes exactly its range. ``lookback`` always equals ``trailing_days``.
    """

    schedule: str = "0 0 * * *"
    trailing_days: int = Field(default=3, ge=0, le=31, description="days before the interval recomputed")
    lookback: timedelta = Field(default=timedelta(days=3), description="set by trailing_days")
    freshness_limit: timedelta = timedelta(days=2)
    backfill_chunk: timedelta = timedelta(days=1)
    dagrun_timeout: timedelta = timedelta(hours=2)
    gold_wait: timedelta = Field(
        default=timedelta(hours=1), description="longest wait for gold to cover the run's days"
    )

    @model_validator(mode="before")
    @classmethod
    def _lookback_from_trailing_days(cls, data: object) -> object:
        days = data.get("trailing_days") if isinstance(data, dict) else None
        if "lookback" not in (data or {}) and str(days).strip().lstrip("-").isdigit():
            data = {**data, "lookback": timedelta(days=int(days))}  # a bad value: the field reports it
        return data

    @model_validator(mode="after")
    def _lookback_is_trailing_days(self) -> DailyKpisCadence:
        if self.lookback != timedelta(days=self.trailing_days):
            raise ValueError(f"set trailing_days, not lookback (lookback {self.lookback})")
        return self


class TriggerSettings(_Section):
    """How the cadences trigger each other when the other's data is stale."""

    wait_timeout: timedelta = Field(
        default=timedelta(minutes=10), description="how long spins waits for a purchases catch-up run"
    )
    poke_interval: timedelta = Field(default=timedelta(seconds=15), description="deferred wait polling")


class CatchUpSettings(_Section):
    """How far back a scheduled run looks for windows its job has not yet processed (outage catch-up).

    A scheduled run lands from where its source last landed successfully and merges silver from where
    silver last merged successfully, at most ``horizon`` back; older gaps need a backfill (the task logs
    them).
    """

    horizon: timedelta = Field(
        default=timedelta(days=1), description="longest outage a scheduled run catches up by itself"
    )

    @field_validator("horizon")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be greater than zero")
        return value


class SimulatorSettings(_Section):
    """The game backend simulator: population, volumes and the rates of realistic imperfections."""

    seed: int = 42
    population_start: date = Field(
        default=date(2026, 1, 1), description="first install date of the simulated user population"
    )
    users: int = Field(default=20_000, gt=0, description="size of the stable user population")
    install_span_days: int = Field(default=730, gt=0, description="installs spread over this many days")
    first_session_delay: timedelta = Field(
        default=timedelta(minutes=5), description="mean install-to-first-session delay (exponential)"
    )
    first_session_max_delay: timedelta = Field(
        default=timedelta(hours=2), description="latest first session after an install"
    )
    purchases_per_hour: float = Field(default=60.0, gt=0, description="mean purchases per hour at peak")
    late_rate: float = Field(default=0.05, ge=0, le=1, description="share of rows arriving hours late")
    late_max: timedelta = Field(default=timedelta(hours=6), description="latest a late row arrives")
    refund_rate: float = Field(default=0.03, ge=0, le=1, description="share of purchases refunded later")
    refund_max_age: timedelta = Field(default=timedelta(days=10), description="oldest purchase refunded")
    duplicate_rate: float = Field(default=0.01, ge=0, le=1, description="share delivered twice")
    malformed_rate: float = Field(default=0.01, ge=0, le=1, description="share of malformed rows")
    spins_active_share: float = Field(
        default=0.03, gt=0, le=1, description="share of installed users spinning in a peak hour"
    )
    correction_rate: float = Field(
        default=0.02, ge=0, le=1, description="share of spins rows re-delivered with corrected totals"
    )
    volume: float = Field(
        default=1.0,
        gt=0,
        le=1000,
        description="volume factor: multiplies users and purchases per hour; spins rows follow the users "
        "(100 ≈ 2M users, ~6,000 purchases/h, ~60k spins rows/h)",
    )
    seed_days: int = Field(default=3, ge=0, le=90, description="history that `make up` seeds")
    spike_day: date | None = Field(
        default=None, description="UTC day whose purchase rate is multiplied by spike_factor (a test spike)"
    )
    spike_factor: float = Field(default=3.0, ge=0, description="purchase rate factor on spike_day; 0: outage")

    @property
    def scaled_users(self) -> int:
        """The population size at this volume."""
        return max(1, round(self.users * self.volume))

    @property
    def scaled_purchases_per_hour(self) -> float:
        """The peak purchase rate at this volume."""
        return self.purchases_per_hour * self.volume


class WorkbookSettings(_Section):
    """The manual import of a MOC-style Excel workbook (``cadence.workbook``)."""

    dagrun_timeout: timedelta = Field(default=timedelta(minutes=60), description="longest import run")
    retries: int = Field(default=1, ge=0, le=10, description="retries of a failed task (a bad file never)")
    retry_delay: timedelta = timedelta(minutes=1)
    max_range: timedelta = Field(default=timedelta(days=92), description="longest range one import covers")
    max_rows: int = Field(default=2_000_000, gt=0, description="most data rows a sheet may have")


class QualitySettings(_Section):
    """Allowed values the validation rules check against, and how many rows one validation takes."""

    countries: tuple[str, ...] = ("US", "GB", "DE", "FR", "BR", "JP", "IN", "CA", "AU", "MX")
    platforms: tuple[str, ...] = ("ios", "android")
    currencies: tuple[str, ...] = ("USD", "GBP", "EUR", "BRL", "JPY", "INR", "CAD", "AUD", "MXN")
    max_revenue_usd: float = Field(default=500.0, gt=0, description="largest believable single purchase")
    batch_rows: int = Field(
        default=50_000,
        ge=1,
        description="a landing validates its chunks together up to this many rows per Great Expectations "
        "run (a run costs ~0.3 s whatever its size; this bounds the memory it holds)",
    )


class BigQuerySettings(_Section):
    """The BigQuery warehouse (``CADENCE_WAREHOUSE=bigquery``): how dbt authenticates, how many dbt tasks run
    at once. Project, dataset and any key live in the Airflow connection ``warehouse_conn_id``."""

    auth: Literal["adc", "key", "keyfile"] = Field(
        default="adc",
        description="adc: Application Default Credentials (Composer's environment account, `gcloud auth`); "
        "key: the connection's service-account JSON (extra keyfile_dict); keyfile: its key_path",
    )
    location: str | None = Field(default=None, description="dataset location, e.g. US or EU")
    threads: int = Field(default=4, ge=1, description="dbt threads inside one dbt task")
    pool: str = Field(default="bigquery", description="pool bounding the dbt tasks that run at once")
    pool_slots: int = Field(default=8, ge=1, description="slots of that pool (created by the init steps)")


class MmpSettings(_Section):
    """Synthetic mobile-measurement-partner (MMP) events: traffic mix, funnel rates, prices and churn.

    Weights are shares of impressions (the traffic bought). A partner's rate or price on a platform is the
    partner's base value times the platform's factor. Prices are USD floats whose ``str`` is exact; the
    generator turns them into micro-dollar decimals, so no float rounding reaches the data.
    """

    seed: int = 42
    partner_weights: dict[str, float] = {
        "adjust": 0.30,
        "appsflyer": 0.35,
        "branch": 0.20,
        "kochava": 0.10,
        "singular": 0.05,
    }
    platform_weights: dict[str, float] = PLATFORM_WEIGHTS
    country_weights: dict[str, float] = COUNTRY_WEIGHTS
    campaigns: int = Field(default=4, ge=1, le=99, description="campaigns per partner and platform")
    ctr: dict[str, float] = Field(
        default={"adjust": 0.030, "appsflyer": 0.035, "branch": 0.025, "kochava": 0.040, "singular": 0.028},
        description="click-through rate per partner (times platform_ctr_factor)",
    )
    platform_ctr_factor: dict[str, float] = {"ios": 1.15, "android": 0.95}
    ctr_range: tuple[float, float] = Field(default=(0.02, 0.05), description="allowed CTR of every segment")
    install_rate: dict[str, float] = Field(
        default={"adjust": 0.30, "appsflyer": 0.32, "branch": 0.26, "kochava": 0.22, "singular": 0.35},
        description="click-to-install rate per partner",
    )
    cpm_usd: dict[str, float] = Field(
        default={"adjust": 6.0, "appsflyer": 7.5, "branch": 5.0, "kochava": 4.5, "singular": 8.0},
        description="price of a thousand impressions per partner (times platform_price_factor)",
    )
    cpc_usd: dict[str, float] = Field(
        default={"adjust": 0.25, "appsflyer": 0.30, "branch": 0.20, "kochava": 0.18, "singular": 0.35},
        description="price of a click per partner (times platform_price_factor)",
    )
    cpi_usd: dict[str, float] = Field(
        default={"adjust": 3.2, "appsflyer": 3.6, "branch": 2.6, "kochava": 2.9, "singular": 4.2},
        description="price of an install per partner (times platform_price_factor)",
    )
    platform_price_factor: dict[str, float] = {"ios": 1.4, "android": 0.85}
    price_jitter: float = Field(default=0.2, ge=0, lt=1, description="each price varies uniformly ± this")
    cpi_range_usd: tuple[float, float] = Field(default=(1.5, 8.0), description="allowed price of any install")
    reinstall_price_share: float = Field(default=0.5, ge=0, le=1, description="reinstall price / CPI")
    organic_share: float = Field(
        default=0.4, ge=0, le=1, description="share of installs no ad led to (reported with partner organic)"
    )
    churn_share: float = Field(default=0.35, ge=0, le=1, description="share of users who ever uninstall")
    churn_after: timedelta = Field(default=timedelta(days=14), description="churners uninstall this late")
    reinstall_rate: float = Field(
        default=0.003, ge=0, le=1, description="daily reinstall chance of a churner"
    )
    click_delay: timedelta = Field(default=timedelta(seconds=30), description="mean impression-to-click")
    install_delay: timedelta = Field(default=timedelta(minutes=15), description="mean click-to-install")
    chunk_size: int = Field(default=1 << 18, ge=1 << 16, le=1 << 24, description="events per chunk in memory")

    @field_validator("partner_weights", "platform_weights", "country_weights")
    @classmethod
    def _distribution(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or min(value.values()) < 0 or abs(sum(value.values()) - 1) > 1e-6:
            raise ValueError(f"weights must be non-negative and sum to 1, got {value}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MmpSettings:
        partners, platforms = sorted(self.partner_weights), sorted(self.platform_weights)
        if "organic" in partners:
            raise ValueError("'organic' is the partner of unattributed installs, not a partner to configure")
        for name in ("ctr", "install_rate", "cpm_usd", "cpc_usd", "cpi_usd"):
            if sorted(getattr(self, name)) != partners:
                raise ValueError(f"{name} must name exactly the partners {partners}")
            if min(getattr(self, name).values()) <= 0:
                raise ValueError(f"{name} values must be greater than zero")
        for name in ("platform_ctr_factor", "platform_price_factor"):
            if sorted(getattr(self, name)) != platforms:
                raise ValueError(f"{name} must name exactly the platforms {platforms}")
        if max(self.install_rate.values()) > 1:
            raise ValueError("install_rate values must be at most 1")
        for partner in partners:
            for platform in platforms:
                ctr = self.ctr[partner] * self.platform_ctr_factor[platform]
                if not self.ctr_range[0] <= ctr <= self.ctr_range[1] < 1:
                    raise ValueError(f"CTR {ctr:.4f} of {partner}/{platform} is outside ctr_range")
                cpi = self.cpi_usd[partner] * self.platform_price_factor[platform]
                low, high = cpi * (1 - self.price_jitter), cpi * (1 + self.price_jitter)
                if low < self.cpi_range_usd[0] or high > self.cpi_range_usd[1]:
                    raise ValueError(f"CPI {low:.2f}-{high:.2f} of {partner}/{platform} is outside cpi_range")
        return self

    def __hash__(self) -> int:  # dict fields are unhashable; this keeps Settings usable as a cache key
        return hash(self.model_dump_json())


class MonitoringSettings(_Section):
    """KPI anomaly and pipeline-health monitoring: where the rules are, what counts as unhealthy, who hears.

    The KPI rules themselves are YAML (``kpi_rules_path``, by default ``cadence/kpi_rules.yaml``). A job of
    ``job_cadences`` is stale when its newest successful window ended more than cadence x
    ``health_tolerance`` before the check. Slack / SMTP are used only when their connection id is set.
    """

    kpi_rules_path: Path | None = Field(default=None, description="KPI rules YAML (default: packaged)")
    job_cadences: dict[str, timedelta] = Field(
        default={
            "purchases": timedelta(minutes=5),
            "purchases_silver": timedelta(minutes=5),
            "spins_hourly": timedelta(hours=1),
            "spins_hourly_silver": timedelta(hours=1),
            "gold": timedelta(hours=1),
        },
        description="run-log jobs pipeline health expects, with how often each lands a window",
    )
    health_tolerance: float = Field(default=3.0, ge=1, description="stale after cadence x this")
    max_quarantine_share: float = Field(
        default=0.05, ge=0, le=1, description="largest share of extracted rows quarantined in a day"
    )
    quarantine_severity: Literal["warn", "error"] = "warn"
    slack_conn_id: str | None = Field(default=None, description="Slack incoming-webhook connection")
    smtp_conn_id: str | None = Field(default=None, description="SMTP connection for e-mail alerts")
    email_to: tuple[str, ...] = Field(default=(), description="recipients of e-mail alerts")

    @field_validator("job_cadences")
    @classmethod
    def _positive_cadences(cls, value: dict[str, timedelta]) -> dict[str, timedelta]:
        for job, cadence in value.items():
            if cadence <= timedelta(0):
                raise ValueError(f"cadence of job {job!r} must be greater than zero, got {cadence}")
        return value

    def __hash__(self) -> int:  # dict fields are unhashable; this keeps Settings usable as a cache key
        return hash(self.model_dump_json())


class DashboardSettings(_Section):
    """The analysts' dashboard (``cadence.dashboard``): what the pipeline publishes for it."""

    history_days: int = Field(default=90, ge=1, le=3660, description="days of history the snapshot holds")


class TelemetrySettings(_Section):
    """Game-client telemetry (``cadence.telemetry``): the simulated uploads, their imperfections, sessions
    and the events-per-minute traffic rule.

    Rates are shares of files (upload imperfections), of lines (invalid JSON, schema drift, split visits)
    or of devices (clock skew). The traffic rule alerts a minute when its events reach
    ``alert_min_events`` and either exceed ``alert_absolute`` or are ``alert_factor`` times the trailing
    ``baseline_minutes`` average; one device alerts alone at ``device_alert_events`` a minute.
    """

    seed: int = 7
    trigger: Literal["file", "pubsub"] = Field(
        default="file", description="what starts a run: a signal file in the landing area, or Pub/Sub"
    )
    pubsub_project: str = Field(default="", description="GCP project of the Pub/Sub subscription")
    pubsub_subscription: str = Field(default="", description="subscription to GCS object notifications")
    poke_interval: timedelta = Field(default=timedelta(seconds=10), description="landing-area polling")
    fallback_schedule: str = Field(default="*/30 * * * *", description="cron of the catch-all run")
    dagrun_timeout: timedelta = timedelta(minutes=30)
    retries: int = Field(default=1, ge=0, le=10)
    retry_delay: timedelta = timedelta(minutes=1)
    visits_per_hour: float = Field(default=240.0, gt=0, description="mean visits per hour at peak")
    files_per_hour: float = Field(default=12.0, gt=0, description="mean uploads per hour")
    split_visit_rate: float = Field(default=0.05, ge=0, le=1, description="visits whose tail comes later")
    duplicate_file_rate: float = Field(default=0.05, ge=0, le=1, description="files uploaded twice")
    corrected_file_rate: float = Field(default=0.03, ge=0, le=1, description="files re-uploaded corrected")
    truncated_file_rate: float = Field(default=0.02, ge=0, le=1, description="uploads cut short (bad gzip)")
    invalid_line_rate: float = Field(default=0.01, ge=0, le=1, description="lines that are not valid JSON")
    drift_line_rate: float = Field(default=0.02, ge=0, le=1, description="lines with an unknown extra field")
    bad_visit_rate: float = Field(default=0.01, ge=0, le=1, description="lines breaking a validation rule")
    clock_skew_rate: float = Field(default=0.1, ge=0, le=1, description="devices whose clock is off")
    clock_skew_max: timedelta = Field(default=timedelta(hours=3), description="largest clock error")
    bursts_per_day: float = Field(default=1.0, ge=0, description="bot / retry-storm bursts per day")
    burst_events_per_minute: int = Field(default=3000, gt=0, description="events a burst device sends")
    burst_minutes: int = Field(default=3, ge=1, le=60, description="how long a burst lasts")
    quiet_periods_per_day: float = Field(default=0.5, ge=0, description="outages with no uploads")
    session_gap: timedelta = Field(default=timedelta(minutes=30), description="inactivity ending a session")
    baseline_minutes: int = Field(default=60, ge=5, le=1440, description="trailing baseline of the rule")
    alert_absolute: int | None = Field(default=2000, gt=0, description="events a minute that always alert")
    alert_factor: float | None = Field(default=8.0, gt=1, description="times the baseline that alerts")
    alert_min_events: int = Field(default=300, ge=0, description="no alert below this many events a minute")
    device_alert_events: int = Field(default=600, gt=0, description="events a minute one device may send")
    alert_severity: Literal["warn", "error"] = "warn"

    @field_validator("fallback_schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid cron expression")
        return value

    @model_validator(mode="after")
    def _rule_and_trigger(self) -> TelemetrySettings:
        if self.alert_absolute is None and self.alert_factor is None:
            raise ValueError("set alert_absolute and/or alert_factor: the traffic rule needs one")
        if self.trigger == "pubsub" and not (self.pubsub_project and self.pubsub_subscription):
            raise ValueError("trigger 'pubsub' needs pubsub_project and pubsub_subscription")
        if self.session_gap <= timedelta(0):
            raise ValueError("session_gap must be greater than zero")
        return self


class Settings(BaseSettings):
    """All of Cadence's configuration. Build it with :func:`get_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Field(default=PROJECT_ROOT / ".data", description="local state: lake, DuckDB, source")
    lake_url: str = Field(default="", description="lake root: file:///path locally, gs://bucket/prefix")
    lake_conn_id: str | None = Field(default=None, description="Airflow connection for a remote lake")
    warehouse: Literal["duckdb", "bigquery"] = "duckdb"
    warehouse_conn_id: str = "cadence_warehouse"
    source_conn_id: str = "cadence_source"
    duckdb_pool: str = Field(default="duckdb", description="one-slot pool for every task opening DuckDB")
    dbt_project_dir: Path = PROJECT_ROOT / "dbt"
    max_backfill: timedelta = Field(default=timedelta(days=31), description="longest backfill range")

    purchases: PurchasesCadence = PurchasesCadence()
    spins: SpinsCadence = SpinsCadence()
    daily_kpis: DailyKpisCadence = DailyKpisCadence()
    monitoring: MonitoringSettings = MonitoringSettings()
    mmp_cadence: MmpCadence = MmpCadence()
    triggers: TriggerSettings = TriggerSettings()
    catch_up: CatchUpSettings = CatchUpSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    quality: QualitySettings = QualitySettings()
    mmp: MmpSettings = MmpSettings()
    workbook: WorkbookSettings = WorkbookSettings()
    bigquery: BigQuerySettings = BigQuerySettings()
    dashboard: DashboardSettings = DashboardSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @model_validator(mode="after")
    def _default_lake(self) -> Settings:
        if not self.lake_url:
            object.__setattr__(self, "lake_url", (self.data_dir / "lake").resolve().as_uri())
        if not self.lake_url.startswith(("file://", "gs://", "s3://", "memory://")):
            raise ValueError(f"lake_url {self.lake_url!r} must start with file://, gs:// or s3://")
        return self

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def source_db_path(self) -> Path:
        return self.data_dir / "source.sqlite"

    @property
    def lake_local_path(self) -> str:
        """The lake root as DuckDB reads it: a plain path for file://, the URL otherwise."""
        return self.lake_url.removeprefix("file://")


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        variable = ENV_PREFIX + "__".join(part.upper() for part in loc)
        lines.append(f"{variable}: {item['msg']} (got {item.get('input')!r})")
    return "invalid Cadence configuration:\n  " + "\n  ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (plus explicit overrides), failing with a readable message."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None


@functools.cache
def _cached(environment_key: frozenset[tuple[str, str]]) -> Settings:
    return load_settings()


def get_settings() -> Settings:
    """The settings for the current environment, built once per distinct set of CADENCE_* variables."""
    key = frozenset((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX))
    return _cached(key)


def cli_settings() -> Settings | None:
    """The settings for a command-line tool, or None after printing why they are invalid (exit with 2)."""
    import sys

    try:
        return get_settings()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None
