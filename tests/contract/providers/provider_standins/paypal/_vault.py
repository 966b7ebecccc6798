"""Payment Method Tokens v3: ``GET /v3/vault/payment-tokens/{id}``, ``GET …?customer_id=``
and ``DELETE /v3/vault/payment-tokens/{id}`` (204, no body), as the SDK's ``VaultController``
calls them. A deleted token cannot pay any more."""

from __future__ import annotations

from typing import Any

from .._server import Response
from .._tokens import TOKENS
from ._orders import Saved
from ._wire import not_found


class VaultMixin:
    vault: dict[str, Saved]

    def vault_json(self, saved: Saved) -> dict[str, Any]:
        base = self.base_url  # type: ignore[attr-defined]
        return {
            "id": saved.id,
            "status": "VAULTED",
            "customer": {"id": saved.customer},
            "links": [
                {
                    "href": f"{base}/v3/vault/payment-tokens/{saved.id}",
                    "rel": "self",
                    "method": "GET",
                },
                {
                    "href": f"{base}/v3/vault/payment-tokens/{saved.id}",
                    "rel": "delete",
                    "method": "DELETE",
                },
            ],
        }

    def token_json(self, saved: Saved) -> dict[str, Any]:
        card = TOKENS[saved.token].card if saved.token in TOKENS else TOKENS["pm_card_visa"].card
        return {
            "id": saved.id,
            "customer": {"id": saved.customer},
            "payment_source": {
                "card": {
                    "brand": card.brand.upper(),
                    "last_digits": card.last4,
                    "expiry": f"{card.exp_year}-{card.exp_month:02d}",
                }
            },
            "links": self.vault_json(saved)["links"],
        }

    def get_payment_token(self, ident: str) -> Response:
        saved = self.vault.get(ident)
        if saved is None or saved.deleted:
            return not_found()
        return Response(200, self.token_json(saved))

    def list_payment_tokens(self, query: dict[str, str]) -> Response:
        customer = query.get("customer_id")
        found = [
            self.token_json(s)
            for s in self.vault.values()
            if not s.deleted and s.customer == customer
        ]
        return Response(200, {"customer": {"id": customer}, "payment_tokens": found, "links": []})

    def delete_payment_token(self, ident: str) -> Response:
        saved = self.vault.get(ident)
        if saved is None or saved.deleted:
            return not_found()
        saved.deleted = True
        return Response(204)
