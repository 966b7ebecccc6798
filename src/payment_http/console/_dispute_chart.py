"""The overview's disputes: how many were opened each day of the last 30, and how they stand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from payment_adapters.console import DailyDisputes
from payment_http.console._charts import Point, bar_chart
from payment_http.console._overview import DAYS
from payment_http.console._views import days_back

__all__ = ["dispute_figures"]


def dispute_figures(now: datetime, rows: Sequence[DailyDisputes]) -> dict[str, Any]:
    """The chart of disputes opened per day, and counts by state (what the bank decided)."""
    start = days_back(now, DAYS).date()
    days = [start + timedelta(days=i) for i in range(DAYS)]
    opened = dict.fromkeys(days, 0)
    by_status = Counter[str]()
    for row in rows:
        if row.day in opened:
            opened[row.day] += row.count
            by_status[row.status] += row.count
    total = sum(opened.values())

    def label(value: int) -> str:
        return str(value)

    return {
        "dispute_counts": [
            (status, by_status[status])
            for status in ("NEEDS_RESPONSE", "UNDER_REVIEW", "WON", "LOST")
        ],
        "disputes_opened": total,
        "dispute_chart": bar_chart(
            "disputes",
            "Disputes opened per day",
            f"Disputes (chargebacks and inquiries) opened each day from {start} to {days[-1]}: "
            f"{total} in all; {by_status['WON']} won and {by_status['LOST']} lost so far.",
            [Point(d, opened[d]) for d in days],
            label,
        ),
    }
