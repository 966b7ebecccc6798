"""The console over the app in process (``AsyncTestClient``), signed in as an operator would.

Every response goes through the suite's leak scan (``make_api`` hooks it on the client), and
:meth:`Operator.get` also checks that a page holds no payment's client secret and no payment
method token (``pm_...``): the console must never show either.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import httpx
import pytest
from litestar.testing import AsyncTestClient
from tests import _leakscan
from tests.http.conftest import (  # noqa: F401 - fixtures the tests here use
    API_KEY,
    AUTH,
    Api,
    json_logs,
    make_api,
    payment_body,
    postgres_url,
    sqlite_template,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_KEY = re.compile(r'name="form_key" value="([^"]+)"')
TOKEN = re.compile(r"\bpm_[A-Za-z0-9_]+")


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no hidden field {name}"
    return found.group(1)


def assert_nothing_secret(html: str, secrets: list[str]) -> None:
    assert not TOKEN.search(html), "a payment method token is on the page"
    for secret in secrets:
        assert secret not in html, "a client secret is on the page"


@attrs.define
class Operator:
    """A person at the console: a client with its own cookies, over one app."""

    api: Api
    client: Any
    secrets: list[str] = attrs.field(factory=list)

    async def sign_in(self, key: str = API_KEY) -> httpx.Response:
        form = await self.client.get("/console/login")
        return await self.client.post(
            "/console/login",
            data={
                "api_key": key,
                "csrf_token": CSRF.search(form.text).group(1),
                "next": "/console",
            },
            follow_redirects=False,
        )

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.get(path, **kwargs)
        assert_nothing_secret(response.text, self.secrets)
        return response

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.client.post(path, data=data, follow_redirects=False)

    async def csrf(self) -> str:
        page = await self.client.get("/console/payments")
        return CSRF.search(page.text).group(1)

    async def payment(self, method: str = "pm_card_visa", **overrides: Any) -> dict[str, Any]:
        """A payment made through the API (and its client secret remembered as a secret)."""
        created = await self.api.create_payment(**overrides)
        if created.get("client_secret"):
            # Not a suite-wide secret (the API returns it, as it should): pages are checked.
            self.secrets.append(created["client_secret"])
        if method:
            response = await self.api.client.post(
                f"/api/v1/payments/{created['id']}/confirm",
                json={"payment_method": method},
                headers=AUTH,
            )
            assert response.status_code == 200, response.text
            return dict(response.json())
        return created

    async def refund_form(self, payment_id: str) -> dict[str, str]:
        page = await self.get(f"/console/payments/{payment_id}/refund")
        assert page.status_code == 200, page.text
        return {
            "csrf_token": hidden(page.text, "csrf_token"),
            "form_key": hidden(page.text, "form_key"),
        }


@contextlib.asynccontextmanager
async def operator_for(
    api: Api, base_url: str = "http://testserver.local"
) -> AsyncIterator[Operator]:
    """A second person on the same app, with cookies of their own."""
    client: AsyncTestClient[Any] = AsyncTestClient(api.app, base_url=base_url)
    client.event_hooks = {
        **client.event_hooks,
        "response": [*client.event_hooks["response"], _leakscan.scan_response],
    }
    async with client:
        yield Operator(api, client)


@pytest.fixture
async def operator(make_api: Callable[..., Any]) -> Any:  # noqa: F811
    api = await make_api("memory")
    person = Operator(api, api.client)
    response = await person.sign_in()
    assert response.status_code == 303, response.text
    return person


@pytest.fixture(params=["memory", "sqlite"])
async def operator_on(
    request: pytest.FixtureRequest,
    make_api: Callable[..., Any],  # noqa: F811
) -> Any:
    api = await make_api(request.param)
    person = Operator(api, api.client)
    response = await person.sign_in()
    assert response.status_code == 303, response.text
    return person
