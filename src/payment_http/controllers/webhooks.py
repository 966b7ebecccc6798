"""``/api/v1/webhooks/{provider}``: provider events, signature checked on the raw body."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Controller, Request, post

from payment_http.controllers._common import PUBLIC, PathText, ServicesDep, problems
from payment_http.schemas import WebhookReceived

__all__ = ["WebhookController"]

logger = logging.getLogger(__name__)


class WebhookController(Controller):
    path = "/api/v1/webhooks"
    tags = ["webhooks"]  # noqa: RUF012 - Litestar's layer attribute

    @post(
        "/{provider:str}",
        status_code=200,
        summary="Receive a provider's webhook",
        operation_id="handleWebhook",
        response_description="The event was accepted (or had been already).",
        description="The provider's own signature scheme over the raw body (Stripe and the fake "
        "provider: `Stripe-Signature` / `Fake-Signature: t=<unix>,v1=<hex>`, 300 s tolerance "
        "either way). A bad, missing, stale or future signature gets 400 `invalid_signature` and "
        "changes nothing; a signed body that is not UTF-8 JSON, nests deeper than 64 levels or "
        "holds a lone surrogate gets 400 `malformed_json`, and an event whose id or envelope is "
        "not the provider's gets 422 `validation_error`, storing nothing; an event id seen "
        "before gets `duplicate: true` and changes nothing. An event acts only on its own "
        "provider's payments and refunds, named by the provider's own id, and only with an "
        "amount; anything else is acknowledged and changes nothing. The fake provider does "
        "not exist with `ENVIRONMENT=production` (404).",
        opt=PUBLIC,
        responses=problems(400, 404, 413, 422),
    )
    async def receive(
        self,
        provider: PathText,
        request: Request[Any, Any, Any],
        services: ServicesDep,
    ) -> WebhookReceived:
        body = await request.body()
        result = await services.webhooks.receive(provider, body, dict(request.headers))
        logger.info(
            "webhook %s from %s: event %s, %s",
            result.webhook_id,
            provider,
            result.event_id[:255],
            "duplicate" if result.duplicate else result.outcome,
        )
        return WebhookReceived(received=True, duplicate=result.duplicate)
