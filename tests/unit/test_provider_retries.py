"""The shared machinery of the provider adapters: backoff, retries, rate limiting, redaction."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from payment_adapters.providers import Backoff, TokenBucket
from payment_adapters.providers._common import (
    Redactor,
    call_with_retries,
    parse_retry_after,
    parse_rfc3339,
)
from payment_core.errors import (
    ProviderDeclinedError,
    ProviderRejectedError,
    ProviderUnavailableError,
)

logger = logging.getLogger("test")


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------------------- backoff


def test_backoff_grows_exponentially_with_equal_jitter_and_a_cap() -> None:
    low = Backoff(base_seconds=0.5, cap_seconds=3.0, randbelow=lambda n: 0)
    high = Backoff(base_seconds=0.5, cap_seconds=3.0, randbelow=lambda n: n - 1)

    assert [low.delay(n) for n in (1, 2, 3, 4, 5)] == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert [high.delay(n) for n in (1, 2, 3, 4, 5)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_backoff_waits_at_least_what_retry_after_asks_within_its_bound() -> None:
    backoff = Backoff(base_seconds=0.1, max_retry_after_seconds=10, randbelow=lambda n: 0)

    assert backoff.delay(1, retry_after=3) == 3.0
    assert backoff.delay(1, retry_after=11) is None


def test_backoff_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError, match="attempts"):
        Backoff(attempts=0)


async def test_an_unknown_outcome_is_retried_until_an_answer() -> None:
    sleeps = Sleeps()
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ProviderUnavailableError(message="timeout")
        return "done"

    result = await call_with_retries(
        call, backoff=Backoff(attempts=3, sleep=sleeps), provider="p", operation="op", logger=logger
    )

    assert result == "done"
    assert calls == 3
    assert len(sleeps.waits) == 2


async def test_the_last_unknown_outcome_is_reported_when_attempts_run_out() -> None:
    sleeps = Sleeps()

    async def call() -> str:
        raise ProviderUnavailableError(message="down")

    with pytest.raises(ProviderUnavailableError):
        await call_with_retries(
            call,
            backoff=Backoff(attempts=2, sleep=sleeps),
            provider="p",
            operation="op",
            logger=logger,
        )
    assert len(sleeps.waits) == 1


@pytest.mark.parametrize(
    "error",
    [
        ProviderDeclinedError(decline_code="card_declined", message="no"),
        ProviderRejectedError(reason_code="invalid_request", message="no"),
    ],
)
async def test_a_definite_answer_is_never_retried(error: Exception) -> None:
    sleeps = Sleeps()
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)):
        await call_with_retries(
            call, backoff=Backoff(sleep=sleeps), provider="p", operation="op", logger=logger
        )
    assert calls == 1
    assert sleeps.waits == []


async def test_a_retry_after_longer_than_the_bound_is_reported_at_once() -> None:
    sleeps = Sleeps()

    async def call() -> str:
        raise ProviderUnavailableError(message="429", retry_after_seconds=3600)

    with pytest.raises(ProviderUnavailableError) as caught:
        await call_with_retries(
            call, backoff=Backoff(sleep=sleeps), provider="p", operation="op", logger=logger
        )
    assert caught.value.retry_after_seconds == 3600
    assert sleeps.waits == []


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    assert parse_retry_after("7") == 7
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30
    )
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


def test_rfc3339_times_are_read_as_utc_and_naive_ones_refused() -> None:
    assert parse_rfc3339("2026-01-01T12:00:00Z") == datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert parse_rfc3339("2026-01-01T13:00:00.250+01:00") == datetime(
        2026, 1, 1, 12, 0, 0, 250000, tzinfo=UTC
    )
    assert parse_rfc3339("2026-01-01T12:00:00") is None
    assert parse_rfc3339(12) is None


# ---------------------------------------------------------------------------- rate limit


async def test_the_bucket_lets_a_burst_through_then_paces_at_the_rate() -> None:
    clock, sleeps = FakeMonotonic(), Sleeps()

    async def sleep(seconds: float) -> None:
        sleeps.waits.append(seconds)
        clock.now += seconds

    bucket = TokenBucket(rate=10, burst=3, clock=clock, sleep=sleep)
    for _ in range(5):
        await bucket.acquire()

    assert sleeps.waits == pytest.approx([0.1, 0.1])


async def test_the_bucket_refills_while_idle_but_never_above_its_burst() -> None:
    clock, sleeps = FakeMonotonic(), Sleeps()
    bucket = TokenBucket(rate=2, burst=2, clock=clock, sleep=sleeps)
    await bucket.acquire()
    await bucket.acquire()

    clock.now += 60  # a long idle time refills two tokens, not 120
    await bucket.acquire()
    await bucket.acquire()
    assert sleeps.waits == []

    clock.now += 0.0

    async def sleep(seconds: float) -> None:
        sleeps.waits.append(seconds)
        clock.now += seconds

    bucket._sleep = sleep
    await bucket.acquire()
    assert sleeps.waits == pytest.approx([0.5])


def test_the_bucket_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0)


# ---------------------------------------------------------------------------- redaction


def test_the_redactor_removes_secrets_keys_tokens_and_card_numbers() -> None:
    redactor = Redactor(["my-client-secret-123"])
    text = (
        "Invalid API Key provided: sk_live_51Habc*****wxyz; secret my-client-secret-123; "
        "header Bearer A21AAFEpH4PsADK7qSS7pSRsgzfENtu-Q1ysgEDVDESseMHBYXVJYE8ovjj; "
        "No such PaymentMethod: '4242 4242 4242 4242'; whsec_abcdef123"
    )

    cleaned = redactor.clean(text)

    for secret in ("sk_live_51H", "my-client-secret-123", "A21AAFEpH4", "4242 4242", "whsec_abc"):
        assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_the_redactor_bounds_and_flattens_messages() -> None:
    cleaned = Redactor().clean("a\n\nb " + "x" * 1000)
    assert "\n" not in cleaned
    assert len(cleaned) <= 300
    assert Redactor().clean(None, default="none") == "none"
