"""GenerationClient against the FakeHootenanny over real loopback sockets (a bare gateway IO thread,
no actors): direct and job spaces, the broadcast/reply race, failures, timeouts, the jobStatus
fallback and exactly-once delivery."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import free_port, wait_until
from tests.doubles import FakeHootenanny
from tests.doubles.fake_hootenanny import iter_calls
from vibeweaver.actors.gateway.io_thread import GatewayIO
from vibeweaver.actors.gateway.link import HootenannyLink
from vibeweaver.actors.hub import EventHub
from vibeweaver.generation import (
    SPACES,
    GenerationClient,
    GenerationOutcome,
    GenerationRequestError,
    RegionOutcome,
    build_request,
)
from vibeweaver.wire import (
    AbcToMidi,
    Audioldm2Generate,
    GardenCreateRegion,
    GardenRegionCreated,
    GardenSeek,
    JobStarted,
    JobStatus,
    MusicgenGenerate,
    OrpheusLoops,
    YueGenerate,
)

WAIT_S = 10.0


class Outcomes:
    """Collects outcomes delivered to a callback (any thread)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[GenerationOutcome] = queue.Queue()
        self.count = 0

    def __call__(self, outcome: GenerationOutcome) -> None:
        self.count += 1
        self.queue.put(outcome)

    def next(self, timeout: float = WAIT_S) -> GenerationOutcome:
        return self.queue.get(timeout=timeout)


class Rig:
    """A gateway IO thread (DEALER + SUB) wired to a link and a hub, plus a GenerationClient."""

    def __init__(
        self,
        hootenanny: str | None,
        broadcasts: str | None,
        connect_timeout: float | None = None,
        **client: Any,
    ) -> None:
        self.hub = EventHub()
        self.link = HootenannyLink(hootenanny)
        self.io = GatewayIO(
            router=None,
            hootenanny=hootenanny,
            broadcasts=broadcasts,
            on_request=lambda *_: None,
            on_broadcast=self.hub.publish,
            name="test-gateway-io",
            connect_timeout=connect_timeout,
        )
        self.io.start()
        self.link.attach(self.io)
        options: dict[str, Any] = {"timeout": 5.0, "request_timeout": 2.0}
        options.update(client)
        self.client = GenerationClient(self.link, self.hub, **options)

    def close(self) -> None:
        self.client.close()
        self.link.detach(self.io)
        self.io.stop()


@pytest.fixture
def make_rig() -> Iterator[Callable[..., Rig]]:
    rigs: list[Rig] = []

    def make(hootenanny: str | None, broadcasts: str | None = None, **client: Any) -> Rig:
        rig = Rig(hootenanny, broadcasts, **client)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


@pytest.fixture
def fake() -> Iterator[FakeHootenanny]:
    with FakeHootenanny() as hoot:
        yield hoot


def connected(make_rig: Callable[..., Rig], hoot: FakeHootenanny, **client: Any) -> Rig:
    rig = make_rig(hoot.router_endpoint, hoot.pub_endpoint, **client)
    hoot.wait_for_subscribers(1)
    return rig


class TestRequests:
    def test_every_space_builds_a_request_with_the_sheets_values(self) -> None:
        assert build_request("orpheus_loops", "kick") == OrpheusLoops(
            metadata=OrpheusLoops().metadata.__class__(tags=("prompt:kick",), creator="vibeweaver")
        )
        call = build_request("musicgen", "warm pad", tags=["pad"])
        assert isinstance(call, MusicgenGenerate)
        assert (
            call.prompt,
            call.duration,
            call.temperature,
            call.top_k,
            call.top_p,
            call.guidance_scale,
            call.do_sample,
        ) == ("warm pad", 10.0, 1.0, 250, 0.9, 3.0, True)
        assert call.metadata.tags == ("pad",) and call.metadata.creator == "vibeweaver"
        yue = build_request("yue", "la la la")
        assert isinstance(yue, YueGenerate)
        assert (yue.lyrics, yue.genre, yue.max_new_tokens, yue.run_n_segments, yue.seed) == (
            "la la la",
            "Pop",
            3000,
            2,
            42,
        )
        ldm = build_request("audioldm2", "rain", inference={"duration": 8})
        assert isinstance(ldm, Audioldm2Generate)
        assert (ldm.duration, ldm.num_inference_steps, ldm.guidance_scale, ldm.seed) == (
            8.0,
            200,
            3.5,
            0,
        )
        abc = build_request("abc", "X:1\nK:C\nCDEF|")
        assert isinstance(abc, AbcToMidi) and abc.velocity == 80
        for name, spec in SPACES.items():
            required = {
                "orpheus_generate_seeded": {"seed_hash": "h"},
                "orpheus_continue": {"input_hash": "h"},
                "orpheus_bridge": {"section_a_hash": "h"},
                "anticipatory_continue": {"input_hash": "h"},
            }
            assert isinstance(
                build_request(name, "x", inference=required.get(name, {})), spec.request
            )

    @pytest.mark.parametrize(
        ("space", "prompt", "inference", "needle"),
        [
            ("nope", None, {}, "known spaces: orpheus_generate"),
            ("yue", None, {}, "a prompt is required"),
            ("musicgen", "x", {"bogus": 1}, "unknown inference parameter 'bogus'"),
            ("musicgen", "x", {"duration": "long"}, "duration must be float"),
            ("orpheus_continue", None, {}, "missing input_hash"),
        ],
    )
    def test_a_request_that_cannot_be_built_is_refused_with_a_clear_message(
        self, space: str, prompt: str | None, inference: dict[str, Any], needle: str
    ) -> None:
        with pytest.raises(GenerationRequestError, match=needle):
            build_request(space, prompt, inference=inference)

    def test_an_unknown_space_is_a_failed_outcome_at_once_naming_the_known_spaces(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        rig = make_rig(None)
        outcomes = Outcomes()
        rig.client.start("theremin", "wooo", callback=outcomes)
        outcome = outcomes.queue.get_nowait()
        assert outcome.state == "failed" and outcome.job_id is None
        assert "theremin" in (outcome.error or "") and "musicgen" in (outcome.error or "")


class TestCompletion:
    def test_a_direct_orpheus_reply_completes_at_once_with_its_artifact(
        self, make_rig: Callable[..., Rig], fake: FakeHootenanny
    ) -> None:
        rig = connected(make_rig, fake)
        outcomes = Outcomes()
        rig.client.start("orpheus_loops", "kick", callback=outcomes)
        outcome = outcomes.next()
        assert outcome.state == "complete" and outcome.job_id is None
        assert outcome.space == "orpheus_loops" and outcome.duration_ms > 0
        assert outcome.artifact_id is not None and outcome.artifact_id.startswith("artifact_")
        sent = [c for c in iter_calls(fake) if isinstance(c, OrpheusLoops)]
        assert len(sent) == 1 and sent[0].metadata.tags == ("prompt:kick",)
        assert fake.jobs() == []

    def test_a_job_space_completes_when_its_job_state_changed_broadcast_arrives(
        self, make_rig: Callable[..., Rig], fake: FakeHootenanny
    ) -> None:
        rig = connected(make_rig, fake)
        outcomes = Outcomes()
        rig.client.start("musicgen", "dusty breakbeat", callback=outcomes)
        outcome = outcomes.next()
        (job,) = fake.jobs()
        assert outcome.state == "complete" and outcome.job_id == job.job_id
        assert job.result is not None and outcome.artifact_id == job.result.artifact_id  # type: ignore[union-attr]
        assert rig.client.in_flight() == 0

    def test_a_broadcast_that_overtakes_the_job_started_reply_is_not_missed(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        with FakeHootenanny(hold_job_replies=True) as hoot:
            rig = connected(make_rig, hoot)
            outcomes = Outcomes()
            rig.client.start("musicgen", "fast", callback=outcomes)
            wait_until(lambda: rig.client.stats()["early_kept"] == 1)  # broadcast seen, no reply
            assert outcomes.queue.empty()
            assert hoot.release_job_replies() == 1
            outcome = outcomes.next()
            assert outcome.state == "complete" and outcome.artifact_id is not None
            assert outcome.job_id == hoot.jobs()[0].job_id
            assert rig.client.stats()["broadcast_before_reply"] == 1

    def test_a_failed_job_is_a_failed_outcome_carrying_hootenannys_reason(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        with FakeHootenanny(auto_complete=False) as hoot:
            rig = connected(make_rig, hoot)
            outcomes = Outcomes()
            rig.client.start("audioldm2", "rain", callback=outcomes)
            job_id = wait_until(lambda: [j.job_id for j in hoot.jobs()])[0]
            wait_until(lambda: rig.client.stats().get("in_flight") == 1 and _known(rig, job_id))
            hoot.fail_job(job_id, "out of GPU memory")
            outcome = outcomes.next()
            assert outcome.state == "failed" and outcome.job_id == job_id
            assert "out of GPU memory" in (outcome.error or "") and outcome.artifact_id is None

    def test_without_broadcasts_a_job_is_followed_up_with_job_status(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        with FakeHootenanny(auto_complete=False) as hoot:
            rig = make_rig(hoot.router_endpoint, None, status_poll_s=0.05)
            outcomes = Outcomes()
            rig.client.start("musicgen", "slow", callback=outcomes)
            job_id = wait_until(lambda: [j.job_id for j in hoot.jobs()])[0]
            hoot.wait_for_request(lambda r: isinstance(r.call, JobStatus))
            artifact_id = hoot.complete_job(job_id)
            outcome = outcomes.next()
            assert outcome.state == "complete" and outcome.artifact_id == artifact_id


class TestOnStarted:
    """`on_started` gets a job tool's id once, on the IO thread, before the job ends."""

    def test_a_job_space_reports_its_id_when_job_started_arrives_long_before_it_ends(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        with FakeHootenanny(auto_complete=False) as hoot:
            rig = connected(make_rig, hoot)
            outcomes = Outcomes()
            started: queue.Queue[tuple[str, str]] = queue.Queue()
            rig.client.start(
                "musicgen",
                "slow",
                callback=outcomes,
                on_started=lambda job_id: started.put((job_id, threading.current_thread().name)),
            )
            job_id, thread = started.get(timeout=WAIT_S)
            assert [j.job_id for j in hoot.jobs()] == [job_id]
            assert thread == "test-gateway-io" and outcomes.queue.empty()
            artifact_id = hoot.complete_job(job_id)
            outcome = outcomes.next()
            assert outcome.job_id == job_id and outcome.artifact_id == artifact_id
            assert started.empty()  # exactly once

    def test_a_broadcast_that_overtakes_the_reply_reports_the_id_before_the_outcome(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        with FakeHootenanny(hold_job_replies=True) as hoot:
            rig = connected(make_rig, hoot)
            order: queue.Queue[object] = queue.Queue()
            rig.client.start("musicgen", "fast", callback=order.put, on_started=order.put)
            wait_until(lambda: rig.client.stats()["early_kept"] == 1)
            assert order.empty()
            hoot.release_job_replies()
            job_id = order.get(timeout=WAIT_S)
            outcome = order.get(timeout=WAIT_S)
            assert job_id == hoot.jobs()[0].job_id
            assert isinstance(outcome, GenerationOutcome) and outcome.job_id == job_id
            assert outcome.state == "complete" and order.empty()

    def test_direct_refused_and_timed_out_generations_never_call_it(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        with FakeHootenanny(hold_job_replies=True) as hoot:
            rig = connected(make_rig, hoot, timeout=0.5)
            outcomes = Outcomes()
            started: list[str] = []
            for space in ("orpheus_loops", "theremin", "musicgen"):
                rig.client.start(space, "x", callback=outcomes, on_started=started.append)
            states = sorted(outcomes.next().state for _ in range(3))
            assert states == ["complete", "failed", "failed"]  # musicgen: no reply in 0.5 s
            assert hoot.release_job_replies() == 1  # the reply arrives after the timeout
            rig.client.start("orpheus_loops", "y", callback=outcomes)  # answered after it
            assert outcomes.next().state == "complete"
            assert started == [] and outcomes.count == 4

    def test_a_broken_hook_does_not_stop_the_job_from_settling(
        self, make_rig: Callable[..., Rig], fake: FakeHootenanny
    ) -> None:
        rig = connected(make_rig, fake)
        outcomes = Outcomes()

        def broken(job_id: str) -> None:
            raise RuntimeError(f"no room for {job_id}")

        rig.client.start("musicgen", "pad", callback=outcomes, on_started=broken)
        outcome = outcomes.next()
        assert outcome.state == "complete" and outcome.artifact_id is not None


class TestFailures:
    def test_a_job_that_never_ends_fails_at_the_overall_timeout_exactly_once(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        with FakeHootenanny(auto_complete=False) as hoot:
            rig = connected(make_rig, hoot, timeout=0.5)
            outcomes = Outcomes()
            rig.client.start("musicgen", "never", callback=outcomes)
            outcome = outcomes.next()
            assert outcome.state == "failed" and "did not finish within 0.5 s" in (
                outcome.error or ""
            )
            assert hoot.router_endpoint in (outcome.error or "")
            hoot.complete_job(outcome.job_id or "")
            wait_until(lambda: rig.hub.published.get("JobStateChanged"))
            assert outcomes.count == 1 and rig.client.in_flight() == 0

    def test_a_running_job_fails_when_hootenanny_goes_away_instead_of_waiting_its_timeout(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        hoot = FakeHootenanny(auto_complete=False).start()
        try:
            rig = make_rig(
                hoot.router_endpoint,
                hoot.pub_endpoint,
                connect_timeout=0.5,
                timeout=120.0,
                status_poll_s=0.2,
            )
            outcomes = Outcomes()
            started: queue.Queue[str] = queue.Queue()
            rig.client.start("musicgen", "orphaned", callback=outcomes, on_started=started.put)
            job_id = started.get(timeout=WAIT_S)  # its jobStarted reply arrived: it runs
        finally:
            hoot.stop()
        outcome = outcomes.next(timeout=WAIT_S)
        assert outcome.state == "failed" and outcome.job_id == job_id
        assert f"lost hootenanny while job {job_id} was running" in (outcome.error or "")
        assert f"hootenanny at {hoot.router_endpoint} is not reachable" in (outcome.error or "")
        assert outcome.duration_ms < 120_000 and rig.client.in_flight() == 0

    def test_nothing_listening_fails_within_the_timeout_naming_the_endpoint(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        rig = make_rig(endpoint, None, timeout=1.0, request_timeout=1.0)
        outcomes = Outcomes()
        for space in ("orpheus_loops", "musicgen"):
            rig.client.start(space, "kick", callback=outcomes)
        errors = [outcomes.next(timeout=5.0) for _ in range(2)]
        for outcome in errors:
            assert outcome.state == "failed" and endpoint in (outcome.error or "")
            assert outcome.duration_ms < 5000

    def test_a_direct_generation_fails_after_the_connect_timeout_not_its_long_timeout(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        rig = make_rig(endpoint, None, connect_timeout=0.5, timeout=120.0)
        outcomes = Outcomes()
        rig.client.start("orpheus_loops", "kick", callback=outcomes)
        outcome = outcomes.next(timeout=5.0)
        assert outcome.state == "failed" and outcome.duration_ms < 5000
        assert f"hootenanny at {endpoint} is not reachable" in (outcome.error or "")

    def test_a_call_made_before_hootenanny_is_up_is_sent_once_it_connects(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        port = free_port()
        rig = make_rig(f"tcp://127.0.0.1:{port}", None, connect_timeout=30.0)
        outcomes = Outcomes()
        rig.client.start("orpheus_loops", "kick", callback=outcomes)
        with FakeHootenanny(router_port=port):
            outcome = outcomes.next(timeout=10.0)
        assert outcome.state == "complete" and outcome.artifact_id is not None

    def test_a_disabled_link_fails_at_once(self, make_rig: Callable[..., Rig]) -> None:
        rig = make_rig(None)
        outcomes = Outcomes()
        rig.client.start("musicgen", "x", callback=outcomes)
        outcome = outcomes.queue.get_nowait()
        assert outcome.state == "failed" and "not configured" in (outcome.error or "")

    def test_closing_fails_what_is_still_running_and_refuses_new_work(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        with FakeHootenanny(auto_complete=False) as hoot:
            rig = connected(make_rig, hoot)
            outcomes = Outcomes()
            rig.client.start("musicgen", "x", callback=outcomes)
            wait_until(lambda: hoot.jobs())
            rig.client.close()
            assert "stopped" in (outcomes.next().error or "")
            assert "generation" not in rig.hub.subscribers
            rig.client.start("musicgen", "y", callback=outcomes)
            assert "closed" in (outcomes.next().error or "")


class TestRegions:
    def test_create_region_sends_the_sheets_request_and_reports_the_new_region_id(
        self, make_rig: Callable[..., Rig], fake: FakeHootenanny
    ) -> None:
        rig = connected(make_rig, fake)
        outcomes: queue.Queue[RegionOutcome] = queue.Queue()
        rig.client.create_region("artifact_0123456789ab", 8.0, 4.0, callback=outcomes.put)
        outcome = outcomes.get(timeout=WAIT_S)
        (job,) = fake.jobs()
        assert outcome.state == "complete" and outcome.job_id == job.job_id
        assert isinstance(job.result, GardenRegionCreated)
        assert outcome.region_id == job.result.region_id
        (call,) = [c for c in iter_calls(fake) if isinstance(c, GardenCreateRegion)]
        assert call == GardenCreateRegion(
            position=8.0, duration=4.0, behavior_type="play_content",
            content_id="artifact_0123456789ab",
        )  # fmt: skip

    def test_audition_places_the_region_at_chaosgardens_current_position(
        self, make_rig: Callable[..., Rig], fake: FakeHootenanny
    ) -> None:
        rig = connected(make_rig, fake)
        seeked: queue.Queue[Any] = queue.Queue()
        rig.link.call(GardenSeek(beat=12.0), timeout=5.0, callback=seeked.put)
        assert isinstance(seeked.get(timeout=WAIT_S), JobStarted)
        outcomes: queue.Queue[RegionOutcome] = queue.Queue()
        rig.client.audition("artifact_0123456789ab", callback=outcomes.put)
        outcome = outcomes.get(timeout=WAIT_S)
        assert outcome.state == "complete" and outcome.region_id is not None
        assert (outcome.position, outcome.duration) == (12.0, 16.0)

    def test_a_region_that_cannot_be_created_fails_naming_the_endpoint(
        self, make_rig: Callable[..., Rig]
    ) -> None:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        rig = make_rig(endpoint, None, connect_timeout=0.3)
        outcomes: queue.Queue[RegionOutcome] = queue.Queue()
        rig.client.create_region("artifact_0123456789ab", 0.0, callback=outcomes.put)
        outcome = outcomes.get(timeout=WAIT_S)
        assert outcome.state == "failed" and endpoint in (outcome.error or "")


def _known(rig: Rig, job_id: str) -> bool:
    """The client has seen the jobStarted reply for `job_id` (it is tracked by id)."""
    return job_id in rig.client._by_job
