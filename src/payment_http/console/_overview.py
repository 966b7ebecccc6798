"""The overview: the last 30 days of payments and refunds, in figures and charts.

Totals are read by day, currency and status in one grouped query each (payments, refunds),
then folded here. Money is summed per currency and never across currencies: the volume and
refund-rate charts are for one currency at a time (the busiest by default). Rates are basis
points computed with integers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from payment_adapters.console import DailyPayments, DailyRefunds
from payment_http.console._charts import Point, bar_chart, line_chart, percent
from payment_http.console._views import days_back, money

__all__ = ["DAYS", "overview"]

DAYS: Final = 30
_FULL: Final = 10_000


def _rate(part: int, whole: int) -> int | None:
    return part * _FULL // whole if whole else None


def overview(
    now: datetime,
    payments: Sequence[DailyPayments],
    refunds: Sequence[DailyRefunds],
    currency: str | None,
) -> dict[str, Any]:
    start = days_back(now, DAYS).date()
    days = [start + timedelta(days=i) for i in range(DAYS)]
    completed_by_currency = Counter[str]()
    for row in payments:
        if row.status == "COMPLETED":
            completed_by_currency[row.currency] += row.count
    currencies = [c for c, _ in completed_by_currency.most_common()] or sorted(
        {r.currency for r in payments}
    )
    chosen = currency if currency in currencies else (currencies[0] if currencies else "EUR")

    volume: dict[date, int] = dict.fromkeys(days, 0)
    refunded: dict[date, int] = dict.fromkeys(days, 0)
    completed: dict[date, int] = dict.fromkeys(days, 0)
    failed: dict[date, int] = dict.fromkeys(days, 0)
    created = 0
    for row in payments:
        if row.day not in volume:
            continue
        created += row.count
        if row.status == "COMPLETED":
            completed[row.day] += row.count
            if row.currency == chosen:
                volume[row.day] += row.amount
                refunded[row.day] += row.amount_refunded
        elif row.status == "FAILED":
            failed[row.day] += row.count
    refund_count = sum(r.count for r in refunds)
    refunds_failed = sum(r.count for r in refunds if r.status == "FAILED")
    refunds_done = sum(
        r.amount for r in refunds if r.status == "COMPLETED" and r.currency == chosen
    )

    total_volume = sum(volume.values())
    total_completed = sum(completed.values())
    total_failed = sum(failed.values())
    success = _rate(total_completed, total_completed + total_failed)
    refund_rate = _rate(sum(refunded.values()), total_volume)

    def label(value: int) -> str:
        return money(value, chosen)

    volume_points = [Point(d, volume[d]) for d in days]
    success_points = [Point(d, _rate(completed[d], completed[d] + failed[d])) for d in days]
    refund_points = [Point(d, _rate(refunded[d], volume[d])) for d in days]
    busiest = max(days, key=lambda d: volume[d])
    return {
        "currency": chosen,
        "currencies": currencies,
        "since": start,
        "kpis": [
            ("Payments created", str(created), f"last {DAYS} days"),
            ("Completed volume", money(total_volume, chosen), f"{total_completed} payments"),
            (
                "Success rate",
                percent(success) if success is not None else "—",
                f"{total_completed} completed, {total_failed} failed",
            ),
            (
                "Refund rate",
                percent(refund_rate) if refund_rate is not None else "—",
                f"{money(refunds_done, chosen)} refunded",
            ),
            ("Refunds", str(refund_count), f"{refunds_failed} failed"),
        ],
        "volume_chart": bar_chart(
            "volume",
            f"Completed volume per day, {chosen}",
            f"Completed payments in {chosen} per day from {start} to {days[-1]}: "
            f"{money(total_volume, chosen)} in all; the busiest day was {busiest} with "
            f"{money(volume[busiest], chosen)}.",
            volume_points,
            label,
        ),
        "success_chart": line_chart(
            "success",
            "Success rate per day",
            "Share of payments settled each day that completed rather than failed; "
            f"over the {DAYS} days: {percent(success) if success is not None else 'no data'}.",
            success_points,
            scale=_FULL,
        ),
        "refund_chart": line_chart(
            "refunds",
            f"Refund rate per day, {chosen}",
            f"Share of each day's completed {chosen} volume refunded since; over the {DAYS} "
            f"days: {percent(refund_rate) if refund_rate is not None else 'no data'}.",
            refund_points,
            scale=_FULL,
        ),
        "table": [
            {
                "day": d,
                "volume": money(volume[d], chosen),
                "completed": completed[d],
                "failed": failed[d],
                "success": percent(p.value) if (p := success_points[i]).value is not None else "—",
                "refund": percent(q.value) if (q := refund_points[i]).value is not None else "—",
            }
            for i, d in enumerate(days)
        ],
    }
