"""A LatentRef used right after `latent()` while the scheduler is busy: the planner must already
know the latent when the await (or materialize) reaches it, and a latent that ended before the
await still gives its outcome. The scheduler is made slow on `RuleSaved` so the old race (the
DSL telling the planner directly, overtaking the scheduler's `PlanLatent`) would lose every time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from tests.scheduler_actor.rig import FakeGeneration, Rig
from vibeweaver.actors.scheduler import messages as sm
from vibeweaver.actors.scheduler.actor import RuleScheduler
from vibeweaver.dsl.latent import LatentError, latent

SLOW_S = 0.3


@pytest.fixture
def slow_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every RuleSaved takes the scheduler SLOW_S before it plans the latent."""
    handle = RuleScheduler.rule_saved

    def slow(self: RuleScheduler, message: sm.RuleSaved) -> None:
        time.sleep(SLOW_S)
        handle(self, message)

    monkeypatch.setattr(RuleScheduler, "rule_saved", slow)


def gen(rig: Rig) -> FakeGeneration:
    assert rig.generation is not None
    return rig.generation


@pytest.mark.usefixtures("slow_scheduler")
def test_awaiting_a_latent_at_once_while_the_scheduler_is_busy_gets_its_failure(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")

    async def scenario() -> None:
        ref = latent("orpheus_loops", "kick", 0)
        waiting = asyncio.ensure_future(ref)
        await asyncio.sleep(0)  # the await registers while the scheduler still sleeps

        def drive() -> None:
            job = gen(rig).wait_started(1)[0]
            gen(rig).fail(job, "model crashed")

        await asyncio.to_thread(drive)
        with pytest.raises(LatentError, match="failed: model crashed"):
            await waiting

    rig.dsl(lambda: asyncio.run(scenario()))


@pytest.mark.usefixtures("slow_scheduler")
def test_materialize_at_once_while_the_scheduler_is_busy_starts_the_job_now(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")

    async def scenario() -> str:
        ref = latent("orpheus_loops", "pad", 100_000).materialize()  # planned days from now

        def drive() -> None:
            job = gen(rig).wait_started(1)[0]
            gen(rig).complete(job, "artifact_pad")

        waiting = asyncio.ensure_future(ref)
        await asyncio.to_thread(drive)
        return str(await waiting)

    assert rig.dsl(lambda: asyncio.run(scenario())) == "artifact_pad"


def test_awaiting_a_latent_that_already_failed_gives_the_failure(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig()
    rig.move("play")
    ref = rig.dsl(lambda: latent("orpheus_loops", "kick", 0))
    job = gen(rig).wait_started(1)[0]
    gen(rig).fail(job, "model crashed")
    rig.settle()
    assert rig.store.list_rules(rig.session.id)[0].fired_count == 1

    async def late() -> None:
        with pytest.raises(LatentError, match="failed: model crashed"):
            await ref

    rig.dsl(lambda: asyncio.run(late()))
