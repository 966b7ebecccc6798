"""The ``payment-service`` command line, as a process."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from tests.e2e.conftest import AUTH, WEBHOOK_SECRET, Service
from tests.e2e.test_service import webhook

from payment_adapters.crypto import generate_key

pytestmark = pytest.mark.e2e


def run(*args: str, cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"RABBITMQ_URL", "API_KEYS"}}
    environ.update({"ENVIRONMENT": "test", "LOG_LEVEL": "WARNING", **env})
    return subprocess.run(
        [sys.executable, "-m", "payment_http", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"PORT": "eighty"}, "configuration error: PORT: must be an integer"),
        ({"PORT": "70000"}, "configuration error: PORT: must be between 1 and 65535"),
        (
            {"ENVIRONMENT": "production", "ENCRYPTION_KEYS": generate_key("p")},
            "configuration error: API_KEYS: required when ENVIRONMENT=production",
        ),
        (
            {"ENVIRONMENT": "production", "API_KEYS": "k"},
            "configuration error: ENCRYPTION_KEYS: required when ENVIRONMENT=production",
        ),
        (
            {"IDEMPOTENCY_TTL_SECONDS": "60"},
            "configuration error: IDEMPOTENCY_TTL_SECONDS: must be between 86400 and 2592000",
        ),
        (
            {"ENVIRONMENT": "production", "API_KEYS": "k", "ENCRYPTION_KEYS": generate_key("p")},
            "configuration error: PAYMENT_PROVIDER: must name a real provider",
        ),
        (
            {
                "ENVIRONMENT": "production",
                "API_KEYS": "k",
                "ENCRYPTION_KEYS": generate_key("p"),
                "PAYMENT_PROVIDER": "stripe",
                "STRIPE_API_KEY": "sk_test_cli_0000",
                "STRIPE_WEBHOOK_SECRET": "whsec_fake",
            },
            "configuration error: STRIPE_WEBHOOK_SECRET: is a public default",
        ),
        ({"FAKE_WEBHOOK_SECRET": " "}, "configuration error: FAKE_WEBHOOK_SECRET: is empty"),
        ({"DATABASE_URL": "mysql://db/x"}, "configuration error: DATABASE_URL: "),
        ({"ENCRYPTION_KEYS": "k1:not-base64!"}, "configuration error: ENCRYPTION_KEYS: "),
    ],
)
def test_a_bad_setting_stops_with_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], line: str
) -> None:
    result = run("serve", cwd=tmp_path, **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(line)
    assert "not-base64" not in result.stderr  # the value itself is never repeated


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/m.db"
    result = run("migrate", cwd=tmp_path, DATABASE_URL=url, ENCRYPTION_KEYS=generate_key("m"))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "m.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"payments", "refunds", "invoices", "outbox", "idempotency_keys"} <= tables


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "worker", "migrate", "rotate-keys", "reconcile", "webhooks"):
        assert command in result.stdout


async def test_reconcile_replay_and_rotate_keys_on_a_served_database(tmp_path: Path) -> None:
    """Data made by ``serve``, then the maintenance commands on the same database."""
    key1 = generate_key("k1")
    url = f"sqlite+aiosqlite:///{tmp_path}/ops.db"
    # No background work in this one: the sweep is left to the command under test.
    svc = Service(
        url, tmp_path, args=["--no-workers"], ENCRYPTION_KEYS=key1, RECONCILE_AFTER_SECONDS="1"
    )
    await asyncio.to_thread(svc.start)
    async with svc.client() as http:
        body = {
            "booking_id": str(uuid.uuid4()),
            "guest_id": str(uuid.uuid4()),
            "amount": 700,
            "currency": "EUR",
        }
        timeout_payment = (await http.post("/api/v1/payments", json=body, headers=AUTH)).json()
        confirmed = await http.post(
            f"/api/v1/payments/{timeout_payment['id']}/confirm",
            json={"payment_method": "pm_card_timeout"},
            headers=AUTH,
        )
        assert confirmed.json()["status"] == "PROCESSING"
        three_ds = (await http.post("/api/v1/payments", json=body, headers=AUTH)).json()
        pending = (
            await http.post(
                f"/api/v1/payments/{three_ds['id']}/confirm",
                json={"payment_method": "pm_card_authenticationRequired"},
                headers=AUTH,
            )
        ).json()
        event, headers = webhook(pending, "payment_intent.succeeded", "evt_cli_1")
        received = await http.post("/api/v1/webhooks/fake", content=event, headers=headers)
        assert received.status_code == 200
    assert await asyncio.to_thread(svc.terminate) == 0
    await asyncio.sleep(1.2)  # past RECONCILE_AFTER_SECONDS

    env = {
        "DATABASE_URL": url,
        "ENCRYPTION_KEYS": key1,
        "RECONCILE_AFTER_SECONDS": "1",
        "FAKE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    reconciled = await asyncio.to_thread(run, "reconcile", cwd=tmp_path, **env)
    assert reconciled.returncode == 0, reconciled.stderr
    assert "reconciling [" in reconciled.stderr
    assert "100% 1/1" in reconciled.stderr  # a bar with the sweep's total, not a counter
    table = dict(line.rsplit(None, 1) for line in reconciled.stdout.splitlines()[2:])
    assert table == {
        "settled": "1",
        "still unknown": "0",
        "flagged": "0",
        "mismatches": "0",
        "examined": "1",
    }

    with sqlite3.connect(tmp_path / "ops.db") as db:
        (webhook_id,) = db.execute("SELECT id FROM webhooks").fetchone()
    replay_id = str(
        uuid.UUID(webhook_id if isinstance(webhook_id, str) else bytes(webhook_id).hex())
    )
    replayed = await asyncio.to_thread(run, "webhooks", "replay", replay_id, cwd=tmp_path, **env)
    assert replayed.returncode == 0, replayed.stderr
    assert "evt_cli_1" in replayed.stdout
    missing = await asyncio.to_thread(
        run, "webhooks", "replay", str(uuid.uuid4()), cwd=tmp_path, **env
    )
    assert missing.returncode == 1

    key2 = generate_key("k2")
    rotated = await asyncio.to_thread(
        run,
        "rotate-keys",
        "--batch-size",
        "2",
        cwd=tmp_path,
        **{**env, "ENCRYPTION_KEYS": f"{key2},{key1}"},
    )
    assert rotated.returncode == 0, rotated.stderr
    assert "under key 'k2'" in rotated.stderr
    assert "100%" in rotated.stderr
    # The data is readable with the new key alone.
    after = Service(url, tmp_path, ENCRYPTION_KEYS=key2).start()
    try:
        async with after.client() as http:
            got = await http.get(f"/api/v1/payments/{three_ds['id']}", headers=AUTH)
        assert got.json()["status"] == "COMPLETED"
    finally:
        assert after.terminate() == 0
