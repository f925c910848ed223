"""Hole 1 of [9]: the ROUTER had no authentication. A non-loopback --router now needs a ZAP
allow-list (hootenanny's wire carries no credentials, so --token cannot protect it), and a peer
whose address is not on the list is refused during the handshake: no reply, nothing run."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
import zmq

from tests.conftest import free_port, wait_until
from tests.gateway.peer import Peer, gateway_counters
from vibeweaver.actors.gateway.zap import ZapAllowList, parse_allow_list
from vibeweaver.cli import main
from vibeweaver.config import Config
from vibeweaver.errors import ConfigError
from vibeweaver.weaver import Weaver
from vibeweaver.wire import WeaveEvalReply, WeaveEvalRequest


def test_a_public_router_without_zeromq_authentication_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    code = main(
        [
            "serve",
            "--data-dir",
            str(tmp_path),
            "--router",
            f"tcp://0.0.0.0:{port}",
            "--token",
            "X" * 32,
            "--hootenanny",
            "none",
            "--broadcasts",
            "none",
            "--http",
            "none",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "needs ZeroMQ authentication" in err[0] and "--router-allow" in err[0]


def test_the_allow_list_is_parsed_and_bad_entries_named() -> None:
    public = {"router": "tcp://0.0.0.0:5575", "token": "t" * 32}
    Config(router_allow=("10.0.0.5", "10.1.0.0/16"), **public).validated()
    with pytest.raises(ConfigError, match=r"'hootenanny\.lan' is not an IP address"):
        Config(router_allow=("hootenanny.lan",), **public).validated()
    assert Config.load({"router_allow": "10.0.0.5, ::1"}, env={}).router_allow == (
        "10.0.0.5",
        "::1",
    )


@pytest.mark.parametrize(
    ("peer", "allowed"),
    [
        ("10.0.0.5", True),
        ("10.1.200.7", True),
        ("10.0.0.6", False),
        ("::ffff:10.0.0.5", True),
        ("::1", False),
        ("garbage", False),
    ],
)
def test_addresses_and_networks_on_the_list(peer: str, allowed: bool) -> None:
    zap = ZapAllowList(parse_allow_list(["10.0.0.5", "10.1.0.0/16"]))
    assert zap.permits(peer) is allowed


@pytest.fixture
def allow_listed(make_weaver: Callable[..., Weaver]) -> tuple[Weaver, str]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    weaver = make_weaver(router=endpoint, router_allow=("127.0.0.2",), eval_timeout=10.0)
    return weaver, endpoint


def test_a_peer_not_on_the_allow_list_gets_no_reply_and_runs_nothing(
    allow_listed: tuple[Weaver, str],
) -> None:
    weaver, endpoint = allow_listed
    # From 127.0.0.1, which is not on the list. Its request may find no connection to be queued
    # on (the ROUTER can refuse the handshake before it is sent): then it is dropped at once.
    stranger = Peer(endpoint, send_timeout=0.0)
    friend = Peer(endpoint.replace("tcp://", "tcp://127.0.0.2:0;"))  # source address 127.0.0.2
    try:
        with contextlib.suppress(zmq.Again):
            stranger.request(WeaveEvalRequest(code="stranger_ran = True"))
        wait_until(lambda: gateway_counters(weaver).get("router_peers_denied", 0) >= 1)
        assert stranger.quiet(1.0)
        _, reply = friend.call(WeaveEvalRequest(code="'stranger_ran' in globals()"))
        assert reply == WeaveEvalReply(
            output_type="expression", result="False", stdout="", stderr=""
        )
        assert gateway_counters(weaver).get("router_peers_allowed", 0) >= 1
    finally:
        stranger.close()
        friend.close()
