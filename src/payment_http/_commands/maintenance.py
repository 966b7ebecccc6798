"""``migrate``, ``rotate-keys``, ``reconcile`` and ``webhooks replay``: one job each, then exit."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING
from uuid import UUID

from payment_adapters.settings import Settings
from payment_http._commands._common import (
    EXIT_FAILURE,
    EXIT_OK,
    bootstrap,
    configuration_errors,
    run_async,
)
from payment_http._commands.progress import ProgressBar

if TYPE_CHECKING:
    from payment_adapters.admin import Admin

__all__ = ["migrate", "reconcile", "replay_webhook", "rotate_keys"]


def _admin(settings: Settings) -> Admin:
    from payment_adapters.admin import Admin  # noqa: PLC0415

    with configuration_errors():
        return Admin.from_settings(settings)


def migrate(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> int:
        admin = _admin(settings)
        try:
            await admin.migrate()
        finally:
            await admin.aclose()
        print("migrations applied", file=sys.stderr)  # noqa: T201
        return EXIT_OK

    return run_async(run())


def rotate_keys(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> int:
        admin = _admin(settings)
        try:
            if settings.auto_migrate:
                await admin.migrate()
            total = await admin.count_encrypted_rows()
            bar = ProgressBar(total, label="re-encrypting")
            rewritten = await admin.rotate_keys(batch_size=args.batch_size, progress=bar.advance)
            bar.finish()
        finally:
            await admin.aclose()
        print(  # noqa: T201
            f"re-encrypted {rewritten} of {total} rows under key {admin.primary_key_id!r}",
            file=sys.stderr,
        )
        return EXIT_OK

    return run_async(run())


def _table(rows: Sequence[tuple[str, object]]) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [f"{'outcome':<{width}}  count", f"{'-' * width}  -----"]
    lines += [f"{name:<{width}}  {value:>5}" for name, value in rows]
    return "\n".join(lines)


def reconcile(settings: Settings, args: argparse.Namespace) -> int:
    async def run() -> int:
        runtime = await bootstrap(settings)
        try:
            bar = ProgressBar(None, label="reconciling")
            report = await runtime.services.reconciliation.sweep(
                limit=args.limit, progress=bar.advance, total=bar.set_total
            )
            bar.finish()
        finally:
            await runtime.aclose()
        print(  # noqa: T201 - the command's output
            _table(
                [
                    ("settled", report.settled),
                    ("still unknown", report.still_unknown),
                    ("flagged", report.flagged),
                    ("mismatches", report.mismatches),
                    ("examined", report.examined),
                ]
            )
        )
        return EXIT_OK

    return run_async(run())


def replay_webhook(settings: Settings, args: argparse.Namespace) -> int:
    from payment_core.errors import NotFoundError  # noqa: PLC0415

    try:
        webhook_id = UUID(args.id)
    except ValueError:
        print(f"not a webhook id: {args.id[:64]!r}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILURE

    async def run() -> int:
        runtime = await bootstrap(settings)
        try:
            result = await runtime.services.webhooks.replay(webhook_id)
        except NotFoundError:
            print(f"no stored webhook {webhook_id}", file=sys.stderr)  # noqa: T201
            return EXIT_FAILURE
        finally:
            await runtime.aclose()
        print(  # noqa: T201
            f"webhook {result.webhook_id} (event {result.event_id}): {result.outcome}"
        )
        return EXIT_OK

    return run_async(run())
