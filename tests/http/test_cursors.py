"""Cursors on every list endpoint, over every backend: a cursor this API did not return is
``422 validation_error`` (never a 5xx), and the ``next_cursor`` of a page gives the next page."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.http.conftest import AUTH, Api, invoice_body, new_id

BACKENDS = ["memory", "sqlite", "postgres"]
#: Three items in each list below.
ITEMS = 3


@attrs.frozen
class Lists:
    """A booking and its guest with three payments, three refunds (of the first payment),
    three invoices and six billing records (three charges, three refunds)."""

    api: Api
    paths: tuple[str, ...]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def seeded(api: Api) -> Lists:
    booking, guest = new_id(), new_id()
    payments = [
        await api.completed_payment(booking_id=booking, guest_id=guest, amount=10_000)
        for _ in range(ITEMS)
    ]
    first = payments[0]["id"]
    for _ in range(ITEMS):
        response = await api.client.post(
            "/api/v1/refunds", json={"payment_id": first, "amount": 100}, headers=AUTH
        )
        assert response.status_code == 201, response.text
    for _ in range(ITEMS):
        body = invoice_body(booking_id=booking, guest_id=guest)
        response = await api.client.post("/api/v1/invoices", json=body, headers=AUTH)
        assert response.status_code == 201, response.text
    return Lists(
        api,
        (
            f"/api/v1/payments/booking/{booking}",
            f"/api/v1/refunds/payment/{first}",
            f"/api/v1/invoices/booking/{booking}",
            f"/api/v1/billing/booking/{booking}",
            f"/api/v1/billing/guest/{guest}",
        ),
    )


@pytest.fixture(params=BACKENDS)
async def lists(request: pytest.FixtureRequest, make_api: Any) -> Lists:
    return await seeded(await make_api(request.param))


async def get(api: Api, path: str, **params: Any) -> Any:
    return await api.client.get(path, params=params, headers=AUTH)


async def walk(api: Api, path: str, limit: int) -> list[str]:
    """Every id of a list, page by page, following ``next_cursor``."""
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await get(api, path, **params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


FORGED = [
    # Well-formed, but the instant is in year 0 in UTC (the 500 this file was written for).
    b64(f"0001-01-01T00:00:00+14:00|{uuid4()}"),
    b64(f"9999-12-31T23:59:59-14:00|{uuid4()}"),
    # Valid instants, spelled otherwise than this API spells them.
    b64(f"2026-03-14T09:30:00+05:00|{uuid4()}"),
    b64(f"2026-03-14T09:30:00Z|{uuid4()}"),
    b64(f"2026-03-14T09:30:00+00:00|{str(uuid4()).upper()}"),
    b64(f"2026-03-14T09:30:00+00:00|{uuid4().hex}"),
    b64(f"2026-03-14T09:30:00|{uuid4()}") + "==",
    b64(f"2026-03-14 09:30:00+00:00|{uuid4()}"),
    "not a cursor",
    "",  # an empty cursor is the first page (200), listed here to pin that
]


@pytest.mark.parametrize("cursor", FORGED)
async def test_a_cursor_this_api_did_not_return_is_422_on_every_list(
    lists: Lists, cursor: str
) -> None:
    for path in lists.paths:
        response = await get(lists.api, path, cursor=cursor)
        if cursor == "":
            assert response.status_code == 200, (path, response.text)
            continue
        assert response.status_code == 422, (path, response.text)
        problem = response.json()
        assert problem["code"] == "validation_error"
        reason = "not a cursor this API returned"
        assert problem["errors"] == [{"field": "cursor", "reason": reason}]


@pytest.mark.parametrize("limit", [1, 2, ITEMS])
async def test_next_cursor_always_gives_the_next_page(lists: Lists, limit: int) -> None:
    for path in lists.paths:
        whole = (await get(lists.api, path)).json()
        assert whole["next_cursor"] is None
        assert len(whole["items"]) == (ITEMS * 2 if "billing" in path else ITEMS), path
        assert await walk(lists.api, path, limit) == [i["id"] for i in whole["items"]], path


def _instants() -> st.SearchStrategy[datetime]:
    """Any instant at any fixed offset, the edges of ``datetime``'s range weighted in (an
    offset there makes an instant that no UTC datetime holds)."""
    offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )
    edges = st.builds(
        lambda edge, offset: edge.replace(tzinfo=offset),
        st.sampled_from([datetime.min, datetime.max]),
        offsets,
    )
    return st.one_of(edges, st.datetimes(timezones=offsets))


def _spellings(moment: datetime, ident: UUID, sep: str, upper: bool) -> str:
    text = f"{moment.isoformat(sep=sep)}|{ident}"
    return b64(text.upper() if upper else text)


#: Arbitrary text, arbitrary base64url, and well-formed positions at any instant and offset.
CURSORS = st.one_of(
    st.text(max_size=250),
    st.binary(max_size=120).map(lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")),
    st.builds(_spellings, _instants(), st.uuids(), st.sampled_from(["T", " "]), st.booleans()),
)


_ISSUABLE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00\|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def _issuable(cursor: str) -> bool:
    """Whether this API could have returned ``cursor`` (its own spelling of a UTC instant and
    an id, base64url without padding), told apart without the code under test."""
    if not cursor:
        return True  # no cursor: the first page
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        text = raw.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return False
    if b64(text) != cursor or not _ISSUABLE.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.partition("|")[0])
    except ValueError:
        return False  # month 13, hour 25, ...
    return True


def _checked(cursor: str, response: Any) -> None:
    assert response.status_code < 500, response.text
    if _issuable(cursor):
        assert response.status_code == 200, (cursor, response.text)
    else:
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["code"] == "validation_error", response.text


# One seeded API per backend serves every example: the probes only read.
@settings(
    max_examples=60,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
@given(cursor=CURSORS, which=st.integers(min_value=0, max_value=4))
async def test_any_text_as_a_cursor_is_a_page_or_a_422_never_a_5xx(
    lists: Lists, cursor: str, which: int
) -> None:
    _checked(cursor, await get(lists.api, lists.paths[which], cursor=cursor, limit=2))


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_canonical_cursor_at_any_utc_instant_is_a_page(make_api: Any, backend: str) -> None:
    """Every position this API could have issued, from the first to the last microsecond a
    ``datetime`` holds, is answered by every database (the edges included)."""
    from payment_core.pagination import Cursor  # noqa: PLC0415 - the core's own encoder

    lists = await seeded(await make_api(backend))
    edges = [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]
    for moment in edges:
        for ident in (UUID(int=0), UUID(int=2**128 - 1)):
            cursor = Cursor(moment, ident).encode()
            for path in lists.paths:
                response = await get(lists.api, path, cursor=cursor)
                assert response.status_code == 200, (path, response.text)
                count = len(response.json()["items"])
                assert count == (
                    0 if moment.year == 9999 else len((await get(lists.api, path)).json()["items"])
                ), path
