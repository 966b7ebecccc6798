"""Console sign-in: cookies, CSRF, sign-out, throttling, headers, and the API left as it was."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from tests.console.conftest import CSRF, Operator, operator_for

from payment_adapters.console.memory import InMemorySessionStore
from payment_core.testing import SettableClock
from payment_http.console._guard import CONTENT_SECURITY_POLICY
from payment_http.console._session import IDLE, Sessions, Signer, SignInLimiter


def session_cookie(response):
    cookies = response.headers.get_list("set-cookie")
    return next(c for c in cookies if c.startswith("payment_console="))


PAGES = [
    "/console",
    "/console/payments",
    "/console/attention",
    "/console/webhooks",
    "/console/outbox",
    "/console/payments/00000000-0000-0000-0000-000000000001",
    "/console/anything/else",
]


@pytest.mark.parametrize("path", PAGES)
async def test_without_a_session_every_console_url_redirects_to_sign_in(make_api, path):
    api = await make_api("memory")
    response = await api.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")


async def test_a_valid_key_signs_in_with_a_hardened_cookie_that_holds_no_key(make_api):
    api = await make_api("memory")
    person = Operator(api, api.client)
    response = await person.sign_in()
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("payment_console=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # ENVIRONMENT=test
    assert "test-key-1" not in cookie
    page = await person.get("/console")
    assert page.status_code == 200
    assert "Overview" in page.text


async def test_the_cookie_is_secure_in_production(make_api):
    api = await make_api("memory", environment="production")
    async with operator_for(api, "https://console.example") as person:
        response = await person.sign_in()
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("payment_console=")
    )
    assert "Secure" in cookie


async def test_a_wrong_key_is_refused_and_logged_without_it(make_api, caplog):
    api = await make_api("memory")
    caplog.set_level(logging.INFO)
    response = await Operator(api, api.client).sign_in("not-a-key-at-all")
    assert response.status_code == 401
    assert "not valid" in response.text
    assert "not-a-key-at-all" not in caplog.text
    assert (await api.client.get("/console", follow_redirects=False)).status_code == 303


async def test_sign_in_without_its_csrf_token_is_refused(make_api):
    api = await make_api("memory")
    await api.client.get("/console/login")
    response = await api.client.post(
        "/console/login", data={"api_key": "test-key-1", "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert (await api.client.get("/console", follow_redirects=False)).status_code == 303


async def test_sign_out_ends_the_session_for_a_copied_cookie_too(operator):
    stolen = operator.client.cookies.get("payment_console")
    assert stolen
    csrf = await operator.csrf()
    response = await operator.post("/console/logout", {"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login"
    async with operator_for(operator.api) as thief:
        thief.client.cookies.set("payment_console", stolen)
        assert (await thief.client.get("/console", follow_redirects=False)).status_code == 303
    assert (await operator.client.get("/console", follow_redirects=False)).status_code == 303


async def test_sign_out_needs_the_csrf_token(operator):
    response = await operator.post("/console/logout", {"csrf_token": "forged"})
    assert response.status_code == 303
    assert (await operator.client.get("/console", follow_redirects=False)).status_code == 200


async def test_an_altered_cookie_signs_nobody_in(operator):
    value = operator.client.cookies.get("payment_console")
    forged = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    async with operator_for(operator.api) as intruder:
        intruder.client.cookies.set("payment_console", forged)
        assert (await intruder.client.get("/console", follow_redirects=False)).status_code == 303


async def test_sign_in_attempts_are_limited_per_address_with_retry_after(make_api):
    api = await make_api("memory")
    person = Operator(api, api.client)
    for _ in range(5):
        assert (await person.sign_in("wrong-key-xyz")).status_code == 401
    response = await person.sign_in()  # even the right key waits
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "Too many attempts" in response.text


def test_the_limiter_counts_per_address_and_overall_and_forgets_after_the_window():
    now = [0.0]
    limiter = SignInLimiter(per_address=2, overall=3, window=60, clock=lambda: now[0])
    assert limiter.check("a") is None
    assert limiter.check("a") is None
    assert limiter.check("a") == 60
    assert limiter.check("b") is None
    assert limiter.check("c") is not None  # three in the window, from anywhere
    now[0] = 61.0
    assert limiter.check("a") is None


async def test_sessions_end_after_idle_time_and_at_their_absolute_expiry():
    clock = SettableClock()
    sessions = Sessions(
        InMemorySessionStore(), Signer(b"k" * 32), keys=["key-one"], clock=clock, secure=False
    )
    ident = sessions.match("key-one")
    assert ident is not None
    cookie, _ = await sessions.sign_in(ident)
    clock.advance(IDLE - timedelta(minutes=1))
    assert await sessions.current(cookie) is not None  # used: idle time starts again
    clock.advance(IDLE - timedelta(minutes=1))
    assert await sessions.current(cookie) is not None
    clock.advance(IDLE + timedelta(seconds=1))
    assert await sessions.current(cookie) is None  # idle too long
    cookie, _ = await sessions.sign_in(ident)
    for _ in range(5):
        clock.advance(hours=5)
        await sessions.current(cookie)
    assert await sessions.current(cookie) is None  # 25 h after sign-in


async def test_a_session_of_a_key_taken_out_of_api_keys_ends():
    clock = SettableClock()
    store = InMemorySessionStore()
    signer = Signer(b"k" * 32)
    before = Sessions(store, signer, keys=["old-key-1"], clock=clock, secure=False)
    cookie, _ = await before.sign_in(before.match("old-key-1") or "")
    after = Sessions(store, signer, keys=["new-key-1"], clock=clock, secure=False)
    assert await after.current(cookie) is None


@pytest.mark.parametrize("path", ["/console", "/console/login", "/console/payments"])
async def test_every_page_carries_the_security_headers(operator, path):
    response = await operator.client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("text/html")


async def test_assets_are_served_from_the_package_and_may_be_cached(operator):
    css = await operator.client.get("/console/static/console.css")
    js = await operator.client.get("/console/static/console.js")
    assert css.status_code == js.status_code == 200
    assert "public" in css.headers["cache-control"]
    assert css.headers["x-frame-options"] == "DENY"


async def test_without_api_keys_the_console_is_open(make_api):
    api = await make_api("memory", api_keys=())
    response = await api.client.get("/console")
    assert response.status_code == 200
    assert "Open (no API keys)" in response.text
    assert (await api.client.get("/console/login", follow_redirects=False)).status_code == 303


async def test_the_api_still_needs_its_bearer_key_and_a_console_cookie_is_not_one(operator):
    assert (await operator.client.get("/api/v1/billing/verify")).status_code == 401


async def test_the_sign_in_form_labels_its_field_api_key(make_api):
    api = await make_api("memory")
    page = await api.client.get("/console/login")
    assert 'name="api_key"' in page.text
    assert '<label for="api_key">' in page.text
    assert CSRF.search(page.text)
