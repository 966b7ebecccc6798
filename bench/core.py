"""Full payment lifecycles per second on the in-memory harness, one core, one process.

A lifecycle is what a booking's money usually goes through: create a payment, confirm it
(the fake provider captures it), refund part of it, and process that refund to completion.
Every guarantee stays on: validation, card-data screening, optimistic locking, copies for
isolation, the billing hash chain and the outbox. The figure is the median of several rounds.

    .venv/bin/python bench/core.py [--rounds 7] [--lifecycles 5000] [--profile] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import pstats
import statistics
import sys
import time
import timeit
from uuid import UUID

from payment_core import CreatePayment, PaymentStatus, RefundStatus, ServiceConfig
from payment_core.testing import Harness, build_in_memory

TARGET_PER_SECOND = 10_000


async def lifecycle(harness: Harness, n: int) -> None:
    services = harness.services
    payment = await services.payments.create(
        CreatePayment(
            booking_id=UUID(int=(1 << 64) + n),
            guest_id=UUID(int=(2 << 64) + n),
            amount=12_500,
            currency="EUR",
            payment_method="pm_card_visa",
            description="Room 12, 2 nights",
            metadata={"channel": "bench"},
        )
    )
    payment = await services.payments.confirm(payment.id)
    refund = await services.refunds.create(payment.id, 2_500, "requested_by_customer")
    refund = await services.refunds.process(refund.id)
    if payment.status is not PaymentStatus.COMPLETED or refund.status is not RefundStatus.COMPLETED:
        raise SystemExit(f"lifecycle {n} did not complete: {payment.status} {refund.status}")


async def one_round(lifecycles: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds for ``lifecycles`` lifecycles on a fresh harness."""
    # The refund is created PENDING and processed by the explicit call, so each step is one
    # use case doing its own work (the default config would attempt it inside create).
    harness = build_in_memory(config=ServiceConfig(process_refunds_immediately=False))
    # Warm the harness (first-call costs, lazily built tables) outside the measurement.
    await lifecycle(harness, -1)
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    for n in range(lifecycles):
        await lifecycle(harness, n)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if len(harness.publisher.events) != 4 * (lifecycles + 1):
        raise SystemExit("events went missing")
    verdict = await harness.services.billing.verify()
    if not verdict.ok or verdict.records != 2 * (lifecycles + 1):
        raise SystemExit(f"billing chains do not verify: {verdict}")
    return elapsed, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lifecycles", type=int, default=5_000)
    parser.add_argument("--profile", action="store_true", help="cProfile one round instead")
    parser.add_argument(
        "--pin", action="store_true", help="pin to the first CPU (single-threaded either way)"
    )
    args = parser.parse_args(argv)

    if args.pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        asyncio.run(one_round(args.lifecycles))
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        return 0

    rates, cpu_rates = [], []
    for i in range(args.rounds):
        seconds, cpu = asyncio.run(one_round(args.lifecycles))
        rates.append(args.lifecycles / seconds)
        cpu_rates.append(args.lifecycles / cpu)
        print(
            f"round {i + 1}: {args.lifecycles} lifecycles in {seconds:.3f} s wall "
            f"({cpu:.3f} s CPU) = {rates[-1]:,.0f}/s"
        )
    median, cpu_median = statistics.median(rates), statistics.median(cpu_rates)
    print(
        f"median of {args.rounds} rounds: {median:,.0f} lifecycles/s wall-clock "
        f"({1e6 / median:.1f} us each); {cpu_median:,.0f}/s per CPU second; "
        f"Python {sys.version.split()[0]}, one process, one thread"
    )
    # A yardstick for comparing machines: the same loop pyperformance-style benchmarks use.
    loop_us = min(timeit.repeat("sum(range(1000))", number=2_000, repeat=5)) / 2_000 * 1e6
    print(f"this machine: sum(range(1000)) takes {loop_us:.1f} us")
    # CPU time is what one core spends; wall time also counts waiting for the core when other
    # processes share the machine. Both are printed; the verdict is on wall time.
    print(f"target {TARGET_PER_SECOND:,}/s: {'met' if median >= TARGET_PER_SECOND else 'MISSED'}")
    return 0 if median >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
