"""Rows of the webhook list: each stored delivery read again by its provider's adapter.

A stored body was verified when it arrived; it is translated here (as a replay would) only to
say what it was about: its type, the provider's payment id and the payment of ours that id
names. The body itself never reaches a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from payment_adapters.console import WebhookSummary
from payment_core.errors import PaymentError
from payment_http.console._state import Console
from payment_http.console._views import money

__all__ = ["webhook_rows"]


async def webhook_rows(console: Console, items: Sequence[WebhookSummary]) -> list[dict[str, Any]]:
    providers = console.services.deps.providers
    rows: list[dict[str, Any]] = []
    async with console.services.deps.uow() as uow:
        for w in items:
            row: dict[str, Any] = {
                "id": w.id,
                "provider": w.provider,
                "event_id": w.event_id,
                "received_at": w.received_at,
                "processed_at": w.processed_at,
                "type": "unreadable",
                "kind": "",
                "amount": "",
                "payment_id": None,
            }
            if w.provider in providers:
                try:
                    event = providers.get(w.provider).translate_webhook(w.body)
                except (PaymentError, ValueError, KeyError, TypeError):
                    event = None
                if event is not None:
                    row["type"] = event.type
                    row["kind"] = event.kind.value
                    if event.amount is not None:
                        row["amount"] = money(event.amount.amount, event.amount.currency.code)
                    if event.provider_payment_id:
                        payment = await uow.payments.get_by_provider_id(
                            w.provider, event.provider_payment_id
                        )
                        row["payment_id"] = payment.id if payment else None
            rows.append(row)
    return rows
