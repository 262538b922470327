"""A running summary of generated MMP events, built chunk by chunk so it never holds the whole window."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa

from cadence.mmp.generator import EVENT_TYPES


def _totals(table: pa.Table, key: str, value: str, how: str) -> dict[str, object]:
    grouped = table.group_by(key).aggregate([(value, how)])
    return dict(
        zip(grouped.column(key).to_pylist(), grouped.column(f"{value}_{how}").to_pylist(), strict=True)
    )


@dataclass
class Summary:
    """Counts by event type, partner and platform, and exact cost by event type."""

    by_type: Counter[str] = field(default_factory=Counter)
    by_partner: Counter[str] = field(default_factory=Counter)
    by_platform: Counter[str] = field(default_factory=Counter)
    cost_by_type: dict[str, Decimal] = field(default_factory=dict)

    def add(self, table: pa.Table) -> None:
        self.by_type.update(_totals(table, "event_type", "event_id", "count"))
        self.by_partner.update(_totals(table, "partner", "event_id", "count"))
        self.by_platform.update(_totals(table, "platform", "event_id", "count"))
        for name, cost in _totals(table, "event_type", "cost_usd", "sum").items():
            self.cost_by_type[name] = self.cost_by_type.get(name, Decimal(0)) + cost

    @property
    def events(self) -> int:
        return sum(self.by_type.values())

    @property
    def total_cost(self) -> Decimal:
        return sum(self.cost_by_type.values(), Decimal(0))

    @property
    def ctr(self) -> float:
        return self.by_type["click"] / self.by_type["impression"] if self.by_type["impression"] else 0.0

    @property
    def install_rate(self) -> float:
        conversions = self.by_type["install"] + self.by_type["reinstall"]
        return conversions / self.by_type["click"] if self.by_type["click"] else 0.0

    @property
    def cpi(self) -> Decimal:
        """Mean price of an install (reinstalls are priced apart)."""
        installs = self.by_type["install"]
        return self.cost_by_type.get("install", Decimal(0)) / installs if installs else Decimal(0)

    def render(self, title: str, written: str | None = None) -> str:
        total = self.events or 1

        def shares(counts: Counter[str]) -> str:
            return "  ".join(f"{name} {count / total:.1%}" for name, count in sorted(counts.items()))

        lines = [title, f"  events        {self.events:,}"]
        for name in EVENT_TYPES:
            count, cost = self.by_type[name], self.cost_by_type.get(name, Decimal(0))
            lines.append(f"    {name:<11} {count:>12,}  {count / total:6.2%}   cost ${cost:,.6f}")
        lines += [
            f"  by partner    {shares(self.by_partner)}",
            f"  by platform   {shares(self.by_platform)}",
            f"  CTR           {self.ctr:.2%} (clicks / impressions)",
            f"  install rate  {self.install_rate:.2%} ((re)installs / clicks)",
            f"  CPI           ${self.cpi:,.2f} (mean install price)",
            f"  total cost    ${self.total_cost:,.6f}",
        ]
        if written:
            lines.append(f"  file          {written}")
        return "\n".join(lines)
