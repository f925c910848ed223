"""Hole 5 of [9]: the ROUTER accepted a 50 MB weaveEval and ran it (+115 MB, not returned), while
MCP capped code at 1,000,000 characters. Now both eval paths have the same cap, an oversized
request gets an error reply (refused from its header when it is larger than any allowed code can
be, before it is decoded), and repeated drop warnings are rate-limited."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable

import structlog

from tests.conftest import free_port, wait_until
from tests.gateway.peer import Peer, gateway_counters
from vibeweaver.limits import MAX_CODE_CHARS
from vibeweaver.log_throttle import LogThrottle
from vibeweaver.weaver import Weaver
from vibeweaver.wire import ErrorReply, WeaveEvalReply, WeaveEvalRequest

MB = 1024 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_5_mb_weave_eval_is_refused_with_an_error_reply_and_memory_comes_back(
    make_weaver: Callable[..., Weaver],
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    make_weaver(router=endpoint)
    peer = Peer(endpoint)
    try:
        big = "x = 1\n" + "#" * (5 * MB)
        # warm up: the first round trips load code and fill caches
        for _ in range(3):
            peer.call(WeaveEvalRequest(code="1"))
            _, reply = peer.call(WeaveEvalRequest(code=big), timeout=30)
        gc.collect()
        before = rss_bytes()
        for _ in range(5):
            _, reply = peer.call(WeaveEvalRequest(code=big), timeout=30)
            assert isinstance(reply, ErrorReply)
            assert reply.code == "request_too_large"
            assert f"{MAX_CODE_CHARS:,} characters" in reply.message
        gc.collect()
        assert rss_bytes() - before < 20 * MB
        _, ok = peer.call(WeaveEvalRequest(code="'x' in globals()"))
        assert ok == WeaveEvalReply(output_type="expression", result="False", stdout="", stderr="")
    finally:
        peer.close()


def test_code_over_the_cap_but_within_the_frame_limit_is_refused_after_decoding(
    make_weaver: Callable[..., Weaver],
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    make_weaver(router=endpoint)
    peer = Peer(endpoint)
    try:
        _, reply = peer.call(WeaveEvalRequest(code="#" * (MAX_CODE_CHARS + 1)), timeout=30)
        assert isinstance(reply, ErrorReply) and reply.code == "code_too_long"
        assert reply.message == (
            f"code has {MAX_CODE_CHARS + 1:,} characters; the limit is {MAX_CODE_CHARS:,}"
        )
    finally:
        peer.close()


def test_a_burst_of_one_warning_is_logged_once_per_interval_with_a_count() -> None:
    now = [0.0]
    throttle = LogThrottle(interval_s=10.0, clock=lambda: now[0])
    emitted = []
    for i in range(5_476):
        now[0] = i * 0.001  # 5.5 s of garbage
        held = throttle.allow("frames_dropped")
        if held is not None:
            emitted.append(held)
    assert emitted == [0]
    now[0] = 20.0
    assert throttle.allow("frames_dropped") == 5_475
    assert throttle.allow("other_event") == 0


def test_garbage_bursts_on_the_router_log_a_few_lines_not_one_per_message(
    make_weaver: Callable[..., Weaver],
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    weaver = make_weaver(router=endpoint)
    peer = Peer(endpoint)
    try:
        with structlog.testing.capture_logs() as logs:
            for _ in range(2_000):
                peer.send_frames([b"not", b"a", b"hoot", b"frame"])
            peer.call(WeaveEvalRequest(code="1"))  # the garbage before it was handled
        dropped = [entry for entry in logs if entry["event"] == "frames_dropped"]
        assert 1 <= len(dropped) <= 2
        # every drop is still counted where the admin view reads it
        wait_until(lambda: gateway_counters(weaver).get("dropped_uncorrelated", 0) >= 2_000)
    finally:
        peer.close()
