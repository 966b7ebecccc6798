"""``worker``: the background work alone, as a FastStream app (no HTTP)."""

from __future__ import annotations

import argparse
import sys

from payment_adapters.settings import Settings
from payment_http._commands._common import EXIT_FAILURE, EXIT_OK, configuration_errors, run_async

__all__ = ["worker_command"]


def worker_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from payment_adapters.messaging.worker import run_worker  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the rabbit extra brings it
        print(  # noqa: T201 - a command's own output
            "the worker is unavailable: payment_adapters.messaging.worker is missing "
            "(install the 'rabbit' extra)",
            file=sys.stderr,
        )
        return EXIT_FAILURE

    async def run() -> int:
        with configuration_errors():
            await run_worker(settings)
        return EXIT_OK

    return run_async(run())
