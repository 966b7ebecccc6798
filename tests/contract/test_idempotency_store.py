"""IdempotencyStore: claim, replay, reuse, in-progress, stale locks and expiry, everywhere."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest

from payment_adapters.idempotency import StoredResponse
from payment_core.errors import IdempotencyKeyReusedError, IdempotencyRequestInProgressError

TTL = timedelta(hours=24)
LOCK = timedelta(seconds=30)


def _key() -> str:
    return f"key-{uuid4()}"


async def _claim(storage, key, fingerprint="fp-1", *, now):
    return await storage.idempotency.claim(key, fingerprint, now=now, ttl=TTL, lock_timeout=LOCK)


async def test_the_first_claim_runs_the_request(storage, build):
    claim = await _claim(storage, _key(), now=build.T0)
    assert claim.replay is None


async def test_a_completed_key_replays_its_response(storage, build):
    key = _key()
    await _claim(storage, key, now=build.T0)
    response = StoredResponse(status=201, body=b'{"id":"x","secret":"s\xc3\xa9"}')
    await storage.idempotency.complete(key, response, now=build.at(1))
    claim = await _claim(storage, key, now=build.at(2))
    assert claim.replay == response
    error = StoredResponse(status=422, body=b"{}", content_type="application/problem+json")
    other = _key()
    await _claim(storage, other, now=build.T0)
    await storage.idempotency.complete(other, error, now=build.at(1))
    assert (await _claim(storage, other, now=build.at(2))).replay == error


async def test_another_request_with_the_key_is_refused(storage, build):
    key = _key()
    await _claim(storage, key, now=build.T0)
    with pytest.raises(IdempotencyKeyReusedError):
        await _claim(storage, key, "fp-2", now=build.at(1))
    await storage.idempotency.complete(key, StoredResponse(201, b"{}"), now=build.at(1))
    with pytest.raises(IdempotencyKeyReusedError):
        await _claim(storage, key, "fp-2", now=build.at(2))


async def test_a_running_request_holds_its_key(storage, build):
    key = _key()
    await _claim(storage, key, now=build.T0)
    with pytest.raises(IdempotencyRequestInProgressError):
        await _claim(storage, key, now=build.T0 + LOCK - timedelta(microseconds=1))


async def test_a_stale_lock_is_taken_over(storage, build):
    key = _key()
    await _claim(storage, key, now=build.T0)
    takeover = await _claim(storage, key, now=build.T0 + LOCK)
    assert takeover.replay is None
    # the taker now holds it afresh
    with pytest.raises(IdempotencyRequestInProgressError):
        await _claim(storage, key, now=build.T0 + LOCK + timedelta(seconds=1))


async def test_an_expired_key_starts_over(storage, build):
    key = _key()
    await _claim(storage, key, now=build.T0)
    await storage.idempotency.complete(key, StoredResponse(201, b"old"), now=build.at(1))
    later = build.T0 + TTL
    claim = await _claim(storage, key, "fp-new", now=later)
    assert claim.replay is None
    await storage.idempotency.complete(key, StoredResponse(200, b"new"), now=later)
    assert (await _claim(storage, key, "fp-new", now=later)).replay.body == b"new"


async def test_a_released_key_can_be_claimed_again(storage, build):
    key = _key()
    await _claim(storage, key, now=build.T0)
    await storage.idempotency.release(key)
    assert (await _claim(storage, key, "fp-other", now=build.at(1))).replay is None
    await storage.idempotency.release(_key())  # unknown: nothing happens


async def test_purge_deletes_expired_keys_in_batches(storage, build):
    expired = [_key() for _ in range(5)]
    alive = _key()
    for key in expired:
        await _claim(storage, key, now=build.T0)
    await _claim(storage, alive, now=build.T0 + timedelta(hours=1))
    now = build.T0 + TTL
    assert await storage.idempotency.purge_expired(now, 3) == 3
    assert await storage.idempotency.purge_expired(now, 3) == 2
    assert await storage.idempotency.purge_expired(now, 3) == 0
    with pytest.raises(IdempotencyKeyReusedError):  # still there, with its fingerprint
        await _claim(storage, alive, "fp-other", now=now)
    assert (await _claim(storage, expired[0], "fp-other", now=now)).replay is None


async def test_concurrent_claims_of_one_key_let_exactly_one_run(storage, build):
    key = _key()

    async def claim() -> str:
        try:
            result = await _claim(storage, key, now=build.T0)
        except IdempotencyRequestInProgressError:
            return "in_progress"
        return "replay" if result.replay else "claimed"

    results = await asyncio.gather(*(claim() for _ in range(storage.tasks)))
    assert results.count("claimed") == 1
    assert results.count("in_progress") == storage.tasks - 1


async def test_concurrent_takeovers_of_a_stale_lock_let_exactly_one_run(storage, build):
    key = _key()
    await _claim(storage, key, now=build.T0)
    late = build.T0 + LOCK * 2

    async def claim() -> bool:
        try:
            return (await _claim(storage, key, now=late)).replay is None
        except IdempotencyRequestInProgressError:
            return False

    results = await asyncio.gather(*(claim() for _ in range(storage.tasks)))
    assert results.count(True) == 1
