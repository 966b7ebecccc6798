"""``/health/live``, ``/health/ready`` and ``/metrics`` (all public)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final
from urllib.parse import urlsplit

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from payment_adapters.bootstrap import Runtime
from payment_http.controllers._common import PUBLIC
from payment_http.errors import PROBLEM_JSON, problem_body
from payment_http.metrics import CONTENT_TYPE_LATEST, Metrics
from payment_http.schemas import Health, ReadinessProblem

__all__ = ["HealthController", "broker_ping", "readiness"]

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS: Final = 2.0
_AMQP_HEADER: Final = b"AMQP\x00\x00\x09\x01"


async def broker_ping(url: str) -> None:
    """Open a connection to the AMQP broker and read its ``Connection.Start``; raise if not."""
    parts = urlsplit(url)
    tls = parts.scheme == "amqps"
    host = parts.hostname or "localhost"
    port = parts.port or (5671 if tls else 5672)
    timeout = CHECK_TIMEOUT_SECONDS
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=tls or None), timeout
    )
    try:
        writer.write(_AMQP_HEADER)
        await writer.drain()
        frame = await asyncio.wait_for(reader.read(7), timeout)
        if len(frame) < 7 or frame[0] != 1:  # a method frame (Connection.Start)
            raise ConnectionError("the broker did not answer AMQP 0-9-1")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def readiness(runtime: Runtime) -> dict[str, str]:
    """``{"database": "ok" | "starting" | "down", "broker": ...}`` (broker: when configured)."""
    checks: dict[str, str] = {}
    database = runtime.database
    if database is None:
        checks["database"] = "ok"  # the in-memory harness: always there
    else:
        try:
            await asyncio.wait_for(database.ping(), CHECK_TIMEOUT_SECONDS)
            # Answering is not enough while start-up still migrates it.
            checks["database"] = "ok" if runtime.ready else "starting"
        except Exception as exc:
            if runtime.ready:  # while starting, the start-up task says so (once)
                logger.warning("readiness: database down (%s)", type(exc).__name__)
            checks["database"] = "down"
    url = runtime.settings.rabbitmq_url
    if url:
        try:
            await broker_ping(url)
            checks["broker"] = "ok"
        except Exception as exc:
            logger.warning("readiness: broker down (%s)", type(exc).__name__)
            checks["broker"] = "down"
    return checks


class HealthController(Controller):
    path = "/"
    tags = ["health"]  # noqa: RUF012 - Litestar's layer attribute

    @get(
        "/health/live",
        summary="Liveness: 200 while the process runs",
        operation_id="getLiveness",
        response_description="The process runs.",
        opt=PUBLIC,
    )
    async def live(self) -> Health:
        return Health(status="ok")

    @get(
        "/health/ready",
        summary="Readiness: the database (and broker, when configured) answer",
        operation_id="getReadiness",
        response_description="Every dependency answers.",
        opt=PUBLIC,
        responses={
            503: ResponseSpec(
                data_container=ReadinessProblem,
                description="A dependency is down; `checks` names which.",
                media_type=PROBLEM_JSON,
                generate_examples=False,
            )
        },
    )
    async def ready(self, state: State) -> Response[Health]:
        checks = await readiness(state.runtime)
        down = sorted(name for name, state in checks.items() if state != "ok")
        if not down:
            return Response(Health(status="ok", checks=checks))
        return Response(
            content=problem_body(  # type: ignore[arg-type]
                503,
                "service_unavailable",
                f"down: {', '.join(down)}",
                extra={"checks": checks},
            ),
            status_code=503,
            media_type=PROBLEM_JSON,
        )

    @get(
        "/metrics",
        summary="Prometheus metrics (text exposition format)",
        operation_id="getMetrics",
        response_description="The metrics.",
        opt=PUBLIC,
        media_type=CONTENT_TYPE_LATEST,
    )
    async def metrics(self, metrics: NamedDependency[Metrics]) -> Response[bytes]:
        return Response(content=await metrics.render(), media_type=CONTENT_TYPE_LATEST)
