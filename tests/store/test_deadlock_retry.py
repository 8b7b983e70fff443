"""A deadlock PostgreSQL breaks is a retryable store error, and ``retrying`` does the work again."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from contactcenter.db import Database, StoreRetryable, retrying


async def test_a_real_deadlock_is_retryable_and_the_retry_commits(db: Database, db_url: str) -> None:
    async with db.transaction() as tx:
        a, _ = await tx.customers.find_or_create("email", "a@shop.cn")
        b, _ = await tx.customers.find_or_create("email", "b@shop.cn")
    other = await asyncpg.connect(db_url)
    other_holds_b = asyncio.Event()
    ours_holds_a = asyncio.Event()
    attempts = 0

    async def other_side() -> None:  # b then a: the opposite order
        async with other.transaction():
            await other.execute("UPDATE customers SET display_name = 'other' WHERE id = $1", b.id)
            other_holds_b.set()
            await ours_holds_a.wait()
            await other.execute("UPDATE customers SET display_name = 'other' WHERE id = $1", a.id)

    async def ours() -> int:  # a then b
        nonlocal attempts
        attempts += 1
        async with db.transaction() as tx:
            await tx.conn.execute("UPDATE customers SET display_name = 'ours' WHERE id = $1", a.id)
            if attempts == 1:
                ours_holds_a.set()
                await other_holds_b.wait()
            await tx.conn.execute("UPDATE customers SET display_name = 'ours' WHERE id = $1", b.id)
        return attempts

    try:
        rival = asyncio.create_task(other_side())
        await other_holds_b.wait()
        outcome = await asyncio.gather(retrying(ours), rival, return_exceptions=True)
    finally:
        await other.close()
    # PostgreSQL aborted one side; whichever it was, ours committed in the end
    assert outcome[0] in (1, 2), outcome
    if outcome[0] == 2:
        assert outcome[1] is None  # ours was the victim, retried after the other committed
    else:
        assert isinstance(outcome[1], asyncpg.DeadlockDetectedError)
    async with db.connection() as tx:
        names = await tx.conn.fetch("SELECT display_name FROM customers WHERE id = ANY($1)", [a.id, b.id])
    assert {r["display_name"] for r in names} == {"ours"}


async def test_retrying_gives_up_after_its_attempts() -> None:
    calls = 0

    async def always_deadlocked() -> None:
        nonlocal calls
        calls += 1
        raise StoreRetryable("deadlock detected")

    with pytest.raises(StoreRetryable):
        await retrying(always_deadlocked, attempts=3)
    assert calls == 3
