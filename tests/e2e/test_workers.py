"""``serve --workers N``: N HTTP processes on one port, the background work once, metrics
summed over the processes, and a SIGTERM that drains them all."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.e2e.conftest import AUTH, Backend, Service

pytestmark = pytest.mark.e2e


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Backend]:
    backend = Backend("postgres", tmp_path)
    yield backend
    backend.cleanup()


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _children_of(pid: int) -> list[int]:
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and _alive_child(int(entry.name), pid)
    ]


def _alive_child(pid: int, parent: int) -> bool:
    try:
        return _parent_of(pid) == parent
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _count(metrics: str, method: str, route: str, status: str) -> float:
    labels = f'{{method="{method}",route="{route}",status="{status}"}}'
    prefix = f"http_request_duration_seconds_count{labels} "
    found = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return float(found[0].removeprefix(prefix)) if found else 0.0


def _all_gone(pids: list[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)


def _payment(booking: str) -> dict[str, object]:
    return {"booking_id": booking, "guest_id": booking, "amount": 100, "currency": "EUR"}


async def _create(http: httpx.AsyncClient, booking: str, key: str) -> httpx.Response | None:
    try:
        return await http.post(
            "/api/v1/payments", json=_payment(booking), headers={**AUTH, "Idempotency-Key": key}
        )
    except httpx.TransportError:
        return None  # arrived after the listeners closed: refused, never half-done


def _fresh_connections(service: Service) -> httpx.AsyncClient:
    """A client that opens a new connection per request: the kernel spreads them."""
    return httpx.AsyncClient(
        base_url=service.url,
        timeout=30,
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=0),
    )


async def test_serve_with_two_workers_answers_from_both_and_drains_on_sigterm(
    postgres: Backend, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"")  # a previous run's: wiped at start
    svc = Service(
        postgres.new_database(),
        postgres.workdir,
        # WEB_CONCURRENCY is the default; --workers wins over it.
        args=["--workers", "2"],
        WEB_CONCURRENCY="3",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    ).start()
    assert svc.process is not None
    supervisor = svc.process.pid
    try:
        children = _children_of(supervisor)
        assert len(children) == 2, svc.output()
        for child in children:  # the background work runs in the supervisor alone
            assert "--no-workers" in _cmdline(child)
        assert "--no-workers" not in _cmdline(supervisor)

        booking = str(uuid.uuid4())
        responses: list[httpx.Response | None] = []
        served_by: set[int] = set()
        async with _fresh_connections(svc) as http:
            # Batches until both processes served some (the second may still be starting).
            for batch in range(30):
                if served_by == set(children):
                    break
                if batch:
                    await asyncio.sleep(0.5)
                responses += await asyncio.gather(
                    *(_create(http, booking, f"w-{batch}-{i}") for i in range(10))
                )
                # Each process writes the samples of the requests it served to a file of its own.
                served_by = {
                    int(p.stem.rsplit("_", 1)[1]) for p in metrics_dir.glob("histogram_*.db")
                }
            assert [r.status_code if r else None for r in responses] == [201] * len(responses)
            metrics = (await http.get("/metrics")).text
        assert served_by == set(children), (served_by, children)
        assert not (metrics_dir / "counter_1.db").exists()
        # /metrics, from whichever process answers it, counts the requests of both.
        assert _count(metrics, "POST", "/api/v1/payments", "201") == len(responses)

        # SIGTERM with requests in flight: every process finishes what it accepted.
        async with _fresh_connections(svc) as http:
            tasks = [asyncio.create_task(_create(http, booking, f"t-{i}")) for i in range(40)]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            svc.signal()
            late = await asyncio.gather(*tasks)
        code = await asyncio.to_thread(svc.terminate)
    finally:
        if svc.process.poll() is None:
            svc.process.kill()
    assert code == 0, svc.output()
    assert all(r is None or r.status_code == 201 for r in late), [r.text for r in late if r]
    assert any(r is not None for r in late)
    assert _all_gone(children)

    # Every payment answered 201 is stored, with its event; the supervisor's relay, the one
    # background work of that serve, delivered them (in process: no RABBITMQ_URL).
    again = Service(svc.database_url, postgres.workdir, ENCRYPTION_KEYS=svc.env["ENCRYPTION_KEYS"])
    again.start()
    try:
        async with again.client() as http:
            listed = await http.get(
                f"/api/v1/payments/booking/{booking}", params={"limit": 200}, headers=AUTH
            )
        stored = {p["id"] for p in listed.json()["items"]}
        accepted = {r.json()["id"] for r in [*responses, *late] if r is not None}
        assert stored == accepted
    finally:
        assert again.terminate() == 0


def test_a_worker_that_cannot_bind_stops_the_serve_with_exit_1(
    postgres: Backend, tmp_path: Path
) -> None:
    svc = Service(postgres.new_database(), postgres.workdir, args=["--workers", "2"])
    with socket.socket() as taken:  # another program holds the port, without SO_REUSEPORT
        taken.bind(("127.0.0.1", svc.port))
        taken.listen()
        svc.spawn()
        assert svc.process is not None
        code = svc.process.wait(60)
    assert code == 1, svc.output()
    assert "cannot listen on 127.0.0.1" in svc.output()
