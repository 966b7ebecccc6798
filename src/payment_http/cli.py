"""``payment-service``: serve | worker | migrate | rotate-keys | reconcile | webhooks replay ID.

Settings are read once, at start, from the environment and ``./.env``. A bad value stops the
command with one line on stderr, ``configuration error: VARIABLE: reason``, and exit code 2.
Other failures exit 1; success exits 0 (``serve`` too, after a SIGTERM or SIGINT).

``serve --workers N`` (or ``WEB_CONCURRENCY=N``) with N > 1 starts N such HTTP processes on one
port and runs the background work once, in the process that started them
(``_commands/serve_many.py``). ``serve`` runs the HTTP API with uvicorn in this process and,
unless ``--no-workers``, the
background work (outbox delivery, refund retries, reconciliation, retention, and the booking
consumer when ``RABBITMQ_URL`` is set) in the same event loop. On SIGTERM or SIGINT it stops
accepting connections, lets the requests in flight finish, stops the background work (which
finishes its own rounds in flight), then closes the database pool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from payment_adapters.settings import Settings, SettingsError
from payment_http._commands import maintenance
from payment_http._commands._common import (
    EXIT_CONFIGURATION,
    EXIT_FAILURE,
    EXIT_OK,
    ConfigurationError,
)
from payment_http._commands._common import bootstrap as _bootstrap
from payment_http._commands._common import run_async as _run
from payment_http._commands.worker import worker_command
from payment_http.logging import configure_logging, error_location

if TYPE_CHECKING:
    from payment_adapters.bootstrap import Runtime

__all__ = ["COMMANDS", "ConfigurationError", "main"]

logger = logging.getLogger(__name__)

#: The sub-commands (``python -m payment_http`` without one serves).
COMMANDS: Final = frozenset(
    {"serve", "worker", "migrate", "rotate-keys", "reconcile", "webhooks", "-h", "--help"}
)
#: How long in-flight requests may take to finish after SIGTERM.
GRACEFUL_SHUTDOWN_SECONDS: Final = 30


# ------------------------------------------------------------------ serve


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket of this process's own on a port several processes listen on (the kernel
    spreads the connections over them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


async def _watch_supervisor(pid: int, server: Any) -> None:
    """Stop when the supervisor is gone (killed without a chance to stop its children)."""
    while not server.should_exit:
        if os.getppid() != pid:
            logger.error("the serving process %d is gone: shutting down", pid)
            server.should_exit = True
            return
        await asyncio.sleep(1.0)


def _uvicorn_server(app: Any, host: str, port: int) -> Any:
    import uvicorn  # noqa: PLC0415

    class Server(uvicorn.Server):
        """uvicorn's server with *our* signal handling (it would re-raise the signal at exit)."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        backlog=2048,
    )
    return Server(config)


async def _run_background(runtime: Runtime, stop: asyncio.Event, ready: asyncio.Task[bool]) -> None:
    try:
        if not await asyncio.shield(ready):
            return  # stopped while waiting for the database
    except Exception:
        return  # the start-up task reports its own failure
    try:
        from payment_adapters.background import run_background  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the adapters ship it
        logger.error(  # noqa: TRY400 - the import error itself says nothing more
            "background work is unavailable (payment_adapters.background is missing): "
            "events, refund retries and reconciliation will not run in this process"
        )
        return
    await run_background(runtime, stop, consume_bookings=bool(runtime.settings.rabbitmq_url))


class _Supervisor:
    """Stops the server when start-up or the background work fails, and keeps the exit code."""

    def __init__(self, server: Any, stop: asyncio.Event) -> None:
        self.server = server
        self.stop = stop
        self.exit_code = EXIT_OK

    def watch(self, task: asyncio.Task[Any], what: str) -> None:
        def done(task: asyncio.Task[Any]) -> None:
            error = None if self.stop.is_set() or task.cancelled() else task.exception()
            if error is None:
                return
            logger.error(
                "%s failed (%s at %s): shutting down",
                what,
                type(error).__name__,
                error_location(error),
            )
            self.exit_code = EXIT_FAILURE
            self.server.should_exit = True

        task.add_done_callback(done)


def _stop_on_signals(loop: asyncio.AbstractEventLoop, server: Any) -> None:
    def on_signal(sig: signal.Signals) -> None:
        if server.should_exit:
            logger.warning("%s again: not waiting for requests in flight", sig.name)
            server.force_exit = True
        else:
            logger.info("%s: shutting down", sig.name)
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)


async def _serve(
    settings: Settings, host: str, port: int, *, workers: bool, supervisor_pid: int | None = None
) -> int:
    from payment_http.app import create_app  # noqa: PLC0415
    from payment_http.metrics import Metrics  # noqa: PLC0415

    metrics = Metrics()
    # The API answers at once; until the database answers (and is migrated) /health/ready
    # says 503 naming it, and so do the API's other routes.
    runtime = await _bootstrap(settings, observer=metrics.observer, wait=True)
    try:
        server = _uvicorn_server(create_app(runtime, metrics=metrics), host, port)
        stop = asyncio.Event()
        supervisor = _Supervisor(server, stop)
        loop = asyncio.get_running_loop()
        ready = asyncio.create_task(
            runtime.become_ready(lambda: stop.is_set() or server.should_exit), name="start-up"
        )
        supervisor.watch(ready, "start-up")

        _stop_on_signals(loop, server)

        if supervisor_pid is not None:
            watch = asyncio.create_task(_watch_supervisor(supervisor_pid, server))
            supervisor.watch(watch, "watching the serving process")
        background: asyncio.Task[None] | None = None
        if workers:
            background = asyncio.create_task(
                _run_background(runtime, stop, ready), name="background"
            )
            supervisor.watch(background, "background work")
        # What start-up built lives as long as the process: freeze it out of the collector's
        # full scans, whose pauses would otherwise show up as tail latency.
        gc.collect()
        gc.freeze()
        logger.info(
            "serving on %s:%d (%s, provider %s, background work %s)",
            host,
            port,
            "SQLite" if settings.is_sqlite else "PostgreSQL",
            settings.payment_provider,
            "on" if workers else "off",
        )
        try:
            sockets = None if supervisor_pid is None else [_listening_socket(host, port)]
            await server.serve(sockets=sockets)
        except OSError as exc:  # the port is taken (one of several processes binding it)
            logger.error("cannot listen on %s:%d: %s", host, port, exc.strerror)  # noqa: TRY400
            supervisor.exit_code = EXIT_FAILURE
        except SystemExit as exc:  # uvicorn exits when it cannot bind or start
            code = int(exc.code or EXIT_FAILURE) if isinstance(exc.code, int) else 1
            supervisor.exit_code = code
        if not server.started and supervisor.exit_code == EXIT_OK:
            supervisor.exit_code = EXIT_FAILURE
        stop.set()
        with contextlib.suppress(Exception):
            await ready
        if background is not None:
            try:
                await background
            except Exception as exc:  # reported above; still close cleanly
                logger.error(  # noqa: TRY400 - no traceback in logs, by design
                    "background work ended with %s", type(exc).__name__
                )
    finally:
        await runtime.aclose()
    logger.info("stopped")
    return supervisor.exit_code


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    count = args.workers or settings.web_concurrency
    if count > 1 and args.supervisor is None:
        from payment_http._commands.serve_many import serve_many  # noqa: PLC0415

        return _run(serve_many(settings, host, port, count=count, background=not args.no_workers))
    return _run(
        _serve(settings, host, port, workers=not args.no_workers, supervisor_pid=args.supervisor)
    )


# ------------------------------------------------------------------ parser


Command = Callable[[Settings, argparse.Namespace], int]


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payment-service",
        description="Payments, refunds, invoices and an audit trail for bookings.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="the HTTP API (and the background work)")
    serve.add_argument("--host", help="interface to listen on (default HOST or 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default PORT or 8005)")
    serve.add_argument(
        "--no-workers", action="store_true", help="HTTP only: no background work here"
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="HTTP processes on the port (default WEB_CONCURRENCY or 1); the background work "
        "runs once, in the process that starts them",
    )
    # One of the HTTP processes of ``--workers N``: bind with SO_REUSEPORT, stop with PID.
    serve.add_argument("--supervisor", type=int, help=argparse.SUPPRESS)
    serve.set_defaults(func=_cmd_serve)

    worker = commands.add_parser("worker", help="the background work alone (FastStream)")
    worker.set_defaults(func=worker_command)

    migrate = commands.add_parser("migrate", help="apply the schema migrations")
    migrate.set_defaults(func=maintenance.migrate)

    rotate = commands.add_parser(
        "rotate-keys", help="re-encrypt every stored secret under the first ENCRYPTION_KEYS key"
    )
    rotate.add_argument("--batch-size", type=_positive, default=500, help="rows per transaction")
    rotate.set_defaults(func=maintenance.rotate_keys)

    reconcile = commands.add_parser(
        "reconcile", help="one reconciliation sweep now, with a summary"
    )
    reconcile.add_argument(
        "--limit", type=_positive, default=500, help="at most this many payments and refunds"
    )
    reconcile.set_defaults(func=maintenance.reconcile)

    webhooks = commands.add_parser("webhooks", help="stored provider webhooks")
    webhook_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    replay = webhook_commands.add_parser("replay", help="apply a stored webhook again")
    replay.add_argument("id", help="the stored webhook's id")
    replay.set_defaults(func=maintenance.replay_webhook)
    return parser


def _configuration_error(message: object) -> int:
    print(f"configuration error: {message}", file=sys.stderr)  # noqa: T201
    return EXIT_CONFIGURATION


def main(argv: Sequence[str] | None = None) -> int:
    """The ``payment-service`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        return _configuration_error(exc)
    configure_logging(settings.log_level, json=settings.log_json)
    command: Command = args.func
    try:
        return command(settings, args)
    except ConfigurationError as exc:
        return _configuration_error(exc)
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        logger.error(  # noqa: TRY400 - no traceback in logs, by design
            "%s failed: %s at %s", args.command, type(exc).__name__, error_location(exc)
        )
        return EXIT_FAILURE
