"""``kill -9`` of ``payment-service worker`` processes while they charge plan balances, again
and again, on PostgreSQL: every balance is charged exactly once.

Three workers share one database (no broker: the plan loop needs none). Forty plans have their
balances fall due within a few seconds; the fake provider of each worker journals its calls
(the journaling boot of the worker crash tests) and is slowed down around each confirm, so a
kill lands with charges in flight: claimed in the database, asked of the provider, not yet
recorded. ``RECONCILE_AFTER_SECONDS=2`` is how long a claim lasts: the claims of a dead worker
are taken over by the others (or its successor) and the same attempt run again under the same
idempotency key.

Charged exactly once means: one payment per installment (its id derived from the installment
and its one attempt), ``COMPLETED``, and every confirm the provider was ever asked for it under
that payment's one key, whichever process asked, so that a provider that deduplicates by key
(every real one) took the money once.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from tests.integration.test_relay_worker_crash import BOOT, journal

from payment_adapters.crypto import FieldCipher, generate_key
from payment_adapters.sqlalchemy import Database
from payment_core.model.plan import InstallmentStatus, PlanStatus
from payment_core.pagination import PageRequest
from payment_core.services import (
    CreatePaymentPlan,
    Dependencies,
    ProviderRegistry,
    ServiceConfig,
    Services,
)
from payment_core.services._plan_charging import attempt_payment_id
from payment_core.system import SystemClock, SystemIds
from payment_core.testing import FakeProvider

from .conftest import Backend

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PLANS = 40
WORKERS = 3
KILLS = 6


class Workers:
    """``python -c BOOT worker`` processes over one database, killed and restarted."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.processes: list[subprocess.Popen[bytes]] = []
        self.killed: list[int] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-c", BOOT, "worker"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        self.processes.append(process)
        return process

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.killed.append(process.pid)

    def stop_all(self) -> None:
        for process in self.alive():
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def tail(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")[-1500:] for path in sorted(self.logs.glob("*.log"))
        )


@pytest.fixture
def database_url(tmp_path: Path):
    backend = Backend("postgres", tmp_path)
    yield backend.new_database()
    backend.cleanup()


async def test_kill_9_while_balances_are_charged_charges_each_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    keys = generate_key("plan-crash")
    provider_journal = tmp_path / "provider.jsonl"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ENCRYPTION_KEYS": keys,
        "ENVIRONMENT": "test",
        "PAYMENT_PROVIDER": "fake",
        "LOG_LEVEL": "WARNING",
        "BACKGROUND_INTERVAL_SECONDS": "1",
        "RECONCILE_AFTER_SECONDS": "2",
        "TEST_PROVIDER_JOURNAL": str(provider_journal),
        # Each confirm waits before the provider acts and after it: windows to be killed in.
        "TEST_PROVIDER_DELAYS": json.dumps({"confirm_payment": [0.05, 0.25]}),
    }
    env.pop("RABBITMQ_URL", None)
    database = Database.from_url(database_url, cipher=FieldCipher.from_keys(keys), pool_size=4)
    workers = Workers(env, tmp_path)
    try:
        await database.migrate()
        services = Services.build(
            Dependencies(
                uow=database.uow,
                providers=ProviderRegistry([FakeProvider()]),
                clock=SystemClock(),
                ids=SystemIds(),
                config=ServiceConfig(reconcile_after=timedelta(seconds=2)),
            )
        )
        now = datetime.now(UTC)
        plans = []
        for i in range(PLANS):
            plan = await services.plans.create(
                CreatePaymentPlan(
                    booking_id=uuid4(),
                    guest_id=uuid4(),
                    currency="EUR",
                    total_amount=10_000 + i,
                    check_in=(now + timedelta(days=60)).date(),
                    time_zone="Europe/Lisbon",
                    deposit_bps=3000,
                    # Falling due over four seconds, a few at a time, once the workers run.
                    balance_due_at=now + timedelta(seconds=4 + i / 10),
                    payment_method="pm_card_visa",
                )
            )
            assert plan.installments[0].status is InstallmentStatus.PAID
            plans.append(plan)
        for _ in range(WORKERS):
            workers.start()

        rng = random.Random(13)
        in_flight_at_kill = 0
        deadline = time.monotonic() + 60
        while len(workers.killed) < KILLS:
            assert time.monotonic() < deadline, workers.tail()
            records = journal(provider_journal)
            asked = {
                (r["pid"], r["key"])
                for r in records
                if r["event"] == "call" and r["operation"] == "confirm_payment"
            }
            answered = {(r["pid"], r["key"]) for r in records if r["event"] == "answered"}
            busy = {pid for pid, _ in asked - answered}
            victims = [p for p in workers.alive() if p.pid in busy]
            if victims:
                victim = rng.choice(victims)
                in_flight_at_kill += len([1 for pid, _ in asked - answered if pid == victim.pid])
                workers.kill(victim)
                workers.start()
            await asyncio.sleep(0.02)
        assert in_flight_at_kill >= KILLS  # every kill left a confirm unanswered

        async def all_paid() -> bool:
            done = [await services.plans.get(p.id) for p in plans]
            return all(p.status is PlanStatus.PAID for p in done)

        deadline = time.monotonic() + 90
        while not await all_paid():
            assert time.monotonic() < deadline, workers.tail()
            await asyncio.sleep(0.2)
    finally:
        workers.stop_all()

    try:
        records = journal(provider_journal)
        confirms: dict[str, set[int]] = defaultdict(set)
        answered = set()
        for record in records:
            if record["event"] == "call" and record["operation"] == "confirm_payment":
                confirms[record["key"]].add(record["pid"])
            if record["event"] == "answered" and record["operation"] == "confirm_payment":
                answered.add((record["pid"], record["key"]))
        # Confirms a killed worker asked for and never heard the answer of: charges in flight
        # when their worker died, finished by another process (reconciliation asked the
        # provider, or the claim's taker asked again under the same key).
        cut_short = {
            key
            for key, pids in confirms.items()
            for pid in pids
            if pid in workers.killed and (pid, key) not in answered
        }
        assert len(cut_short) >= KILLS
        for made in plans:
            plan = await services.plans.get(made.id)
            balance = plan.installments[1]
            assert balance.status is InstallmentStatus.PAID
            assert balance.attempts == 1
            assert balance.payment_id == attempt_payment_id(balance.id, 1)
            page = await services.payments.list_by_booking(plan.booking_id, PageRequest(limit=10))
            assert len(page.items) == 2  # the deposit and the balance: nothing charged twice
            payment = next(p for p in page.items if p.id == balance.payment_id)
            assert payment.status.value == "COMPLETED"
            assert payment.amount == balance.amount
            # Asked of the provider under that payment's one key only, whichever process asked.
            assert f"payment-{payment.id}-confirm" in confirms
        # Forty balances, forty keys: no installment was ever asked under a second key.
        assert len(confirms) == PLANS
    finally:
        await database.dispose()
