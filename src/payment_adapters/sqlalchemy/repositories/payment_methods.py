"""Saved payment methods (``payment_core.ports.PaymentMethodRepository``): the provider's
token and customer id sealed to their row, the card in plain columns."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import select

from payment_adapters.crypto import Cipher
from payment_adapters.sqlalchemy import mapping as m
from payment_adapters.sqlalchemy import tables as t
from payment_adapters.sqlalchemy.repositories._base import AggregateRepository
from payment_core.model.card import Card
from payment_core.model.payment_method import PaymentMethod, PaymentMethodStatus
from payment_core.pagination import Page, PageRequest

if TYPE_CHECKING:
    from sqlalchemy.engine import RowMapping

__all__ = [
    "SqlAlchemyPaymentMethodRepository",
    "payment_method_from_row",
    "payment_method_to_row",
]

_TABLE = "payment_methods"


def payment_method_to_row(method: PaymentMethod, cipher: Cipher) -> dict[str, Any]:
    ident, card = method.id, method.card
    return {
        "id": ident,
        "guest_id": method.guest_id,
        "provider": method.provider,
        "type": method.type,
        "provider_token": m.seal_text(
            cipher, _TABLE, "provider_token", ident, method.provider_token
        ),
        "provider_customer_id": m.seal_text(
            cipher, _TABLE, "provider_customer_id", ident, method.provider_customer_id
        ),
        "card_brand": None if card is None else card.brand,
        "card_last4": None if card is None else card.last4,
        "card_exp_month": None if card is None else card.exp_month,
        "card_exp_year": None if card is None else card.exp_year,
        "status": method.status.value,
        "payment_id": method.payment_id,
        "created_at": method.created_at,
        "updated_at": method.updated_at,
        "version": method.version,
    }


def payment_method_from_row(row: RowMapping | dict[str, Any], cipher: Cipher) -> PaymentMethod:
    ident = row["id"]
    token = m.open_text(cipher, _TABLE, "provider_token", ident, row["provider_token"])
    assert token is not None  # NOT NULL
    return PaymentMethod(
        id=ident,
        guest_id=row["guest_id"],
        provider=row["provider"],
        provider_token=token,
        status=PaymentMethodStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        provider_customer_id=m.open_text(
            cipher, _TABLE, "provider_customer_id", ident, row["provider_customer_id"]
        ),
        card=None
        if row["card_brand"] is None
        else Card(
            brand=row["card_brand"],
            last4=row["card_last4"],
            exp_month=row["card_exp_month"],
            exp_year=row["card_exp_year"],
        ),
        type=row["type"],
        payment_id=row["payment_id"],
        version=row["version"],
    )


class SqlAlchemyPaymentMethodRepository(AggregateRepository[PaymentMethod]):
    """Saved payment methods (``payment_core.ports.PaymentMethodRepository``)."""

    table = t.payment_methods
    entity = "payment_method"

    def _to_row(self, aggregate: PaymentMethod) -> dict[str, Any]:
        return payment_method_to_row(aggregate, self._session.cipher)

    def _from_row(self, row: RowMapping) -> PaymentMethod:
        return payment_method_from_row(row, self._session.cipher)

    async def get(
        self, payment_method_id: UUID, *, for_update: bool = False
    ) -> PaymentMethod | None:
        return await self._get(payment_method_id, for_update)

    async def list_by_guest(self, guest_id: UUID, page: PageRequest) -> Page[PaymentMethod]:
        return await self._page(t.payment_methods.c.guest_id == guest_id, page)

    async def customer_of(self, guest_id: UUID, provider: str) -> str | None:
        c = t.payment_methods.c
        # The guest's page index, newest first; a guest has few methods.
        latest = await self._first(
            select(t.payment_methods)
            .where(
                c.guest_id == guest_id,
                c.provider == provider,
                c.provider_customer_id.is_not(None),
            )
            .order_by(c.created_at.desc(), c.id.desc())
        )
        return None if latest is None else latest.provider_customer_id
