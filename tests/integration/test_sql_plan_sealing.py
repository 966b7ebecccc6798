"""A plan cancellation's reason (free text from outside) is sealed at rest on both databases,
rotated with every other sealed column, and read back whole under the new key alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from sqlalchemy import select

from payment_adapters.crypto import FieldCipher, generate_key, key_id_of
from payment_adapters.sqlalchemy import Database
from payment_adapters.sqlalchemy.rotation import rotate_keys
from payment_adapters.sqlalchemy.tables import payment_plans
from payment_adapters.sqlalchemy.testing import create_database, drop_database
from payment_core.services import (
    CreatePaymentPlan,
    Dependencies,
    ProviderRegistry,
    ServiceConfig,
    Services,
)
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider

pytestmark = pytest.mark.integration

OLD_KEY = generate_key("old")
NEW_KEY = generate_key("new")
REASON = "the guest's mother is in hospital, room 4711"


@pytest.fixture(params=["sqlite", "postgres"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "postgres":
        made = await create_database("payments_test_plan_sealing")
        yield made
        await drop_database(made)
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'sealing.db'}"


def services(database: Database) -> Services:
    return Services.build(
        Dependencies(
            uow=database.uow,
            providers=ProviderRegistry([FakeProvider()]),
            clock=SystemClock(),
            ids=SystemIds(),
            config=ServiceConfig(),
        )
    )


async def test_the_reason_is_sealed_rotated_and_read_back(url: str) -> None:
    database = Database.from_url(url, cipher=FieldCipher.from_keys(OLD_KEY))
    try:
        await database.migrate()
        plans = services(database).plans
        plan = await plans.create(
            CreatePaymentPlan(
                booking_id=uuid4(),
                guest_id=uuid4(),
                currency="EUR",
                total_amount=10_000,
                check_in=(datetime.now(UTC) + timedelta(days=40)).date(),
                time_zone="Europe/Lisbon",
                deposit_bps=5000,
                payment_method="pm_card_visa",
            )
        )
        await plans.cancel(plan.id, REASON)
        async with database.engine.connect() as conn:
            row = (await conn.execute(select(payment_plans))).mappings().one()
        assert REASON not in str(dict(row))
        assert key_id_of(bytes(row["cancellation_reason"])) == "old"
        rotated = await rotate_keys(database, FieldCipher.from_keys(f"{NEW_KEY},{OLD_KEY}"))
        assert rotated > 0
    finally:
        await database.dispose()
    only_new = Database.from_url(url, cipher=FieldCipher.from_keys(NEW_KEY))
    try:
        async with only_new.engine.connect() as conn:
            row = (await conn.execute(select(payment_plans))).mappings().one()
        assert key_id_of(bytes(row["cancellation_reason"])) == "new"
        again = await services(only_new).plans.get(plan.id)
        assert again.cancellation is not None
        assert again.cancellation.reason == REASON
    finally:
        await only_new.dispose()
