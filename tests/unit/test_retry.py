"""Backoff policies: pure functions of the attempt and an injected random source."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_core.errors import ValidationError
from payment_core.services.retry import ReconcileSchedule, RetryPolicy

S = timedelta(seconds=1)


def test_the_ceiling_doubles_from_the_base() -> None:
    policy = RetryPolicy(base=2 * S, cap=3600 * S)
    assert [policy.ceiling(n) for n in range(1, 6)] == [2 * S, 4 * S, 8 * S, 16 * S, 32 * S]


def test_the_ceiling_is_capped() -> None:
    policy = RetryPolicy(base=2 * S, cap=3600 * S)
    assert policy.ceiling(12) == 3600 * S
    assert policy.ceiling(10**9) == 3600 * S  # a huge attempt number stays cheap


def test_the_shortest_delay_is_half_the_ceiling() -> None:
    assert RetryPolicy().delay(3, lambda n: 0) == 4 * S


def test_the_longest_delay_is_the_ceiling() -> None:
    assert RetryPolicy().delay(3, lambda n: n - 1) == 8 * S


def test_randbelow_is_asked_for_every_millisecond_between_half_and_all() -> None:
    asked: list[int] = []
    RetryPolicy().delay(1, lambda n: asked.append(n) or 0)
    assert asked == [1_001]  # 1000 ms .. 2000 ms inclusive


@given(
    attempt=st.integers(min_value=1, max_value=100),
    base_ms=st.integers(min_value=1, max_value=10_000),
    cap_factor=st.integers(min_value=1, max_value=1_000),
    pick=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_every_delay_lies_between_half_the_ceiling_and_the_ceiling(
    attempt: int, base_ms: int, cap_factor: int, pick: float
) -> None:
    policy = RetryPolicy(
        base=timedelta(milliseconds=base_ms), cap=timedelta(milliseconds=base_ms * cap_factor)
    )
    ceiling = policy.ceiling(attempt)
    delay = policy.delay(attempt, lambda n: int(n * pick))
    assert ceiling / 2 - timedelta(milliseconds=1) <= delay <= ceiling
    assert ceiling <= policy.cap


@given(st.integers(min_value=1, max_value=60))
def test_the_ceiling_never_shrinks(attempt: int) -> None:
    policy = RetryPolicy()
    assert policy.ceiling(attempt) <= policy.ceiling(attempt + 1)


def test_exhausted_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base": timedelta(0)}, "base"),
        ({"cap": -S}, "cap"),
        ({"base": 10 * S, "cap": 5 * S}, "cap"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": 2.0}, "max_attempts"),
    ],
)
def test_a_bad_policy_is_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValidationError):
        RetryPolicy().ceiling(0)


def test_the_reconcile_schedule_is_five_minutes_an_hour_then_daily() -> None:
    schedule = ReconcileSchedule()
    assert [schedule.after(n) for n in range(5)] == [
        timedelta(minutes=5),
        timedelta(hours=1),
        timedelta(days=1),
        timedelta(days=1),
        timedelta(days=1),
    ]


def test_a_negative_attempt_count_gets_the_first_step() -> None:
    assert ReconcileSchedule().after(-3) == timedelta(minutes=5)


@pytest.mark.parametrize("steps", [(), (timedelta(0),), (S, -S)])
def test_a_bad_schedule_is_refused(steps: tuple[timedelta, ...]) -> None:
    with pytest.raises(ValidationError):
        ReconcileSchedule(steps=steps)
