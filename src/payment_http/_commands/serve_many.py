"""``serve --workers N`` (N > 1): N HTTP processes on one port, the background work once.

This process is the supervisor. It starts N children, each ``python -m payment_http serve
--no-workers --supervisor PID`` on a listening socket of its own bound with ``SO_REUSEPORT``
to the same address, so that the kernel spreads new connections evenly over them (no
thundering herd on one shared socket, no process taking most connections while the others
idle). The background
work (outbox relay, refund retries, reconciliation, retention, the booking consumer) runs
here, once, unless ``--no-workers``. Why not uvicorn's own ``--workers``: its supervisor runs
no application code, so the background work would run once per worker or not at all, and it
builds the app from an import string where ``serve`` builds it from a bootstrapped runtime.

Metrics: every process writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` (a temporary
directory made and removed here when unset, emptied at start when set), and ``/metrics`` in
any child renders the sum over all processes (Prometheus' multiprocess mode).

SIGTERM or SIGINT: each child stops accepting, lets its requests in flight finish and exits;
then the background work stops (finishing its rounds in flight) and the pool closes. A
second signal is passed on (the children then stop at once). A child that dies on its own
is restarted; one that dies within its first seconds stops the whole ``serve`` (it cannot
bind the port, say) with its exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from payment_http._commands._common import EXIT_FAILURE, EXIT_OK
from payment_http.metrics import MULTIPROC_ENV

if TYPE_CHECKING:
    from payment_adapters.settings import Settings

__all__ = ["MULTIPROC_ENV", "prepare_metrics_dir", "serve_many"]

logger = logging.getLogger(__name__)

#: A child that exits sooner than this after its start is a failure to start, not a crash.
START_GRACE: Final = 5.0
#: How long the children get to drain after SIGTERM (their own graceful time, and some).
DRAIN_SECONDS: Final = 40.0


def prepare_metrics_dir() -> tuple[Path, bool]:
    """The multiprocess metrics directory (made when unset), emptied of old samples; and
    whether it was made here (to remove at the end). Must run before prometheus_client is
    imported in this process."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):  # samples of a previous run would be summed in
            old.unlink(missing_ok=True)
        return path, False
    path = Path(tempfile.mkdtemp(prefix="payment-service-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    return path, True


class _Children:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.processes: dict[int, asyncio.subprocess.Process] = {}
        self.started: dict[int, float] = {}
        self.stopping = False
        self.exit_code = EXIT_OK
        self.failed = asyncio.Event()

    async def start(self, slot: int) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "payment_http",
            "serve",
            "--no-workers",
            "--workers",
            "1",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--supervisor",
            str(os.getpid()),
            # Its own session: a Ctrl-C on the terminal reaches this process alone, which
            # passes one SIGTERM on (two signals would make a child stop waiting for requests).
            start_new_session=True,
        )
        self.processes[slot] = process
        self.started[slot] = time.monotonic()
        logger.info("HTTP process %d started (pid %d)", slot + 1, process.pid)
        asyncio.get_running_loop().create_task(self._watch(slot, process))

    async def _watch(self, slot: int, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        _mark_dead(process.pid)
        if self.stopping:
            if code != 0:
                logger.warning("HTTP process %d (pid %d) exited %d", slot + 1, process.pid, code)
                self.exit_code = EXIT_FAILURE
            return
        if time.monotonic() - self.started[slot] < START_GRACE:
            logger.error(
                "HTTP process %d (pid %d) exited %d at start: shutting down",
                slot + 1,
                process.pid,
                code,
            )
            self.exit_code = code or EXIT_FAILURE
            self.failed.set()
            return
        logger.error("HTTP process %d (pid %d) died (%d): restarting", slot + 1, process.pid, code)
        await asyncio.sleep(1.0)
        if not self.stopping:
            await self.start(slot)

    def signal_all(self, sig: signal.Signals) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)

    async def drain(self) -> None:
        """SIGTERM every child, wait for them to finish; SIGKILL what outlives the drain."""
        self.stopping = True
        self.signal_all(signal.SIGTERM)
        waits = [p.wait() for p in self.processes.values()]
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                await asyncio.gather(*waits)
        except TimeoutError:
            logger.error(  # noqa: TRY400 - a timeout, no traceback to show
                "HTTP processes still running after %.0f s: killed", DRAIN_SECONDS
            )
            self.signal_all(signal.SIGKILL)
            await asyncio.gather(*(p.wait() for p in self.processes.values()))
            self.exit_code = EXIT_FAILURE


def _mark_dead(pid: int) -> None:
    with contextlib.suppress(Exception):
        from prometheus_client import multiprocess  # noqa: PLC0415

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


async def serve_many(
    settings: Settings, host: str, port: int, *, count: int, background: bool
) -> int:
    """Supervise ``count`` HTTP processes (and run the background work here); the exit code."""
    metrics_dir, made_here = prepare_metrics_dir()
    children = _Children(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if stop.is_set():
            logger.warning("%s again: the HTTP processes stop at once", sig.name)
            children.signal_all(sig)
            return
        logger.info("%s: shutting down %d HTTP processes", sig.name, count)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        for slot in range(count):
            await children.start(slot)
        logger.info(
            "serving on %s:%d with %d HTTP processes (background work %s)",
            host,
            port,
            count,
            "here" if background else "off",
        )
        work = _background(settings, stop) if background else stop.wait()
        background_task = asyncio.create_task(work, name="background")
        failed = asyncio.create_task(children.failed.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([failed, stopped, background_task], return_when=asyncio.FIRST_COMPLETED)
        # HTTP first (requests in flight may still commit events), then the background work.
        await children.drain()
        stop.set()
        failed.cancel()
        exit_code = children.exit_code
        try:
            await background_task
        except Exception as exc:
            logger.error(  # noqa: TRY400 - no traceback in logs, by design
                "background work ended with %s", type(exc).__name__
            )
            exit_code = EXIT_FAILURE
        logger.info("stopped")
        return exit_code
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if made_here:
            shutil.rmtree(metrics_dir, ignore_errors=True)


async def _background(settings: Settings, stop: asyncio.Event) -> None:
    from payment_http._commands._common import bootstrap  # noqa: PLC0415
    from payment_http.metrics import Metrics  # noqa: PLC0415

    metrics = Metrics()  # what the background work observes joins the children's samples
    runtime = await bootstrap(settings, observer=metrics.observer, wait=True)
    try:
        if not await runtime.become_ready(stop.is_set):
            return
        from payment_adapters.background import run_background  # noqa: PLC0415

        await run_background(runtime, stop, consume_bookings=bool(settings.rabbitmq_url))
    finally:
        await runtime.aclose()
