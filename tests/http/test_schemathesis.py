"""Property-based tests of the live API against its own published OpenAPI schema.

The real stack (the composition root over a SQLite file) is served by uvicorn on a free
loopback port in a thread; schemathesis reads the published document and sends generated
requests, valid and invalid, to every operation, with every check it has: no 5xx, every
response, status code, content type and header as documented, ``Allow`` as the routes are,
authentication enforced, invalid data refused and *valid data accepted*.

Valid data is accepted unless the refusal is one of the service's rules that no JSON Schema
can state, each stated in words in the document: a referenced payment must exist (and be in
the invoice's currency), an invoice's lines may not add up to more than the largest amount,
a saved payment method must exist and be the guest's, an off-session charge needs one (and
``confirm``), and a payment names a token or a saved method, not both,
nothing may carry a card number, and an integer is written as one (JSON Schema counts ``2.0``
as the integer 2; the service, like its contract, refuses a float where an integer is due). A
webhook is accepted only with its
provider's signature over its exact bytes, so that operation is held to every check but that
one. Like any client, the test gives each request its own ``Idempotency-Key`` (a key reused
for another request is refused by design) and pages only with cursors the API returned.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance
from tests.http.conftest import AUTH
from tests.http.conftest import settings as make_settings

from payment_adapters.bootstrap import bootstrap, bootstrap_in_memory
from payment_adapters.crypto import generate_key
from payment_http.app import create_app

MAX_EXAMPLES = 25


class LiveServer:
    """uvicorn serving the real app in a thread, on a socket bound before it starts."""

    def __init__(self, directory: Path) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.settings = make_settings(
            database_url=f"sqlite+aiosqlite:///{directory}/live.db",
            encryption_keys=generate_key("live"),
        )
        self.started = threading.Event()
        self.server: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self.error = exc
            self.started.set()

    async def _serve(self) -> None:
        runtime = await bootstrap(self.settings, migrate=True)
        try:
            config = uvicorn.Config(
                create_app(runtime), log_config=None, access_log=False, lifespan="on"
            )
            self.server = uvicorn.Server(config)
            loop = asyncio.get_running_loop()
            loop.call_later(0.2, self.started.set)
            await self.server.serve(sockets=[self.sock])
        finally:
            await runtime.aclose()

    def __enter__(self) -> LiveServer:
        self.thread.start()
        assert self.started.wait(30), "the live server did not start"
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *_: object) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("live")) as server:
        yield server


def _published_schema() -> dict[str, Any]:
    """The schema the app publishes (the same app as the live server's, over memory)."""
    return dict(create_app(bootstrap_in_memory(make_settings())).openapi_schema.to_schema())


# Generated from at collection time (schemathesis' lazy fixture loader does not run on this
# pytest); the first test checks that the live server publishes exactly this document.
PUBLISHED = _published_schema()
schema = schemathesis.openapi.from_dict(PUBLISHED)
schema.config.generation.update(max_examples=MAX_EXAMPLES)


def test_the_live_server_publishes_the_schema_under_test(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/schema/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.json() == json.loads(json.dumps(PUBLISHED))


load_all_checks()
#: Every check schemathesis has (those about sequences of calls find nothing to fault here).
ALL_CHECKS: Final = CHECKS.get_all()
IDEMPOTENCY_KEY: Final = "Idempotency-Key"
#: Operations whose payment_id or lines are checked against other data (see their description).
CROSS_CHECKED: Final = {
    "createPayment": {
        "payment_method_id",
        "off_session",
        "payment_method",
        "setup_future_usage",
        "provider",
    },
    "createInvoice": {"payment_id", "line_items"},
    # A plan's terms are checked by the core, each with its own code (see the description).
    "createPaymentPlan": {
        "check_in",
        "time_zone",
        "total_amount",
        "deposit_bps",
        "balance_due_days_before_check_in",
        "cancellation_policy.tiers",
        "cancellation_policy.tiers.days_before_check_in",
        "cancellation_policy.tiers.refund_bps",
        "cancellation_policy.no_show_fee_bps",
        "payment_method",
        "provider",
    },
    "updateInvoice": {"payment_id", "line_items"},
}


_WHOLE_FLOAT: Final = re.compile(r"^Expected `int[^`]*`, got `float`$")


def _refused_by_a_documented_rule(case: Any, response: Any) -> bool:
    """A 422 for one of the rules the document states in words and no schema can."""
    if response.status_code != 422:
        return False
    problem = response.json()
    if problem.get("code") == "raw_card_data_forbidden":
        return True  # anything that looks like a card number, wherever it is
    errors = problem.get("errors") or ()
    cross_checked = CROSS_CHECKED.get(case.operation.definition.raw.get("operationId"), set())
    return bool(errors) and all(
        _WHOLE_FLOAT.match(error["reason"]) or error["field"] in cross_checked for error in errors
    )


def valid_data_is_accepted(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, but for the rules of ``_refused_by_a_documented_rule``."""
    if _refused_by_a_documented_rule(case, response):
        return None
    return positive_data_acceptance(ctx, response, case)


def _as_a_client_sends_it(case: Any) -> None:
    """A new Idempotency-Key for every request and no made-up cursor, when both are valid."""

    def valid_at(location: ParameterLocation) -> bool:
        return case.meta is None or not case.meta.is_negative_at(location)

    if case.headers and IDEMPOTENCY_KEY in case.headers and valid_at(ParameterLocation.HEADER):
        key = case.headers[IDEMPOTENCY_KEY]
        case.headers[IDEMPOTENCY_KEY] = f"{uuid.uuid4().hex}{key}"[:255]
    if case.query and "cursor" in case.query and valid_at(ParameterLocation.QUERY):
        del case.query["cursor"]


def _checks_for(case: Any) -> list[Any]:
    checks = [check for check in ALL_CHECKS if check is not positive_data_acceptance]
    # A webhook without its provider's signature is refused by design.
    if case.operation.definition.raw.get("operationId") != "handleWebhook":
        checks.append(valid_data_is_accepted)
    return checks


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_keeps_to_its_schema(case: Any, live_server: LiveServer) -> None:
    """Every check: no 5xx, nothing off the schema, invalid data refused, valid data accepted."""
    _as_a_client_sends_it(case)
    case.call_and_validate(base_url=live_server.url, headers=AUTH, checks=_checks_for(case))
