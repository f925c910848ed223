"""What the kernel process costs (issue [7]): evals served by the in-process kernel ("before", a
commit before the kernel moved out) and by the kernel process ("after", this tree), in one run.

Both trees are served from copies made at the start (`git archive REV` for before, the working
tree's `vibeweaver/` for after), with the same interpreter and PYTHONPATH on the copy; the run
checks that each `python -m vibeweaver` imports its own copy, that before has no
`vibeweaver/channel` and serves without a kernel child process, and that after has one.

Measures, rounds interleaved (floor, before, after, in a rotating order, so machine noise hits all
three alike), p50/p99:
- weaveEval `1+1` → Reply over the ROUTER (a DEALER here, HOOT01 frames; `vibeweaver serve`),
  next to the floor: the same 7-frame round trip against a bare pyzmq ROUTER echoing on a thread;
- weave_eval `1+1` over MCP stdio (a real `mcp` client; `vibeweaver mcp`), next to an echo tool on
  stdio with the same SDK;
and then, over the ROUTER:
- kernel restart (after only): a cell `import os; os._exit(1)` → its KernelDied reply, and the
  next `1+1` answered ok (death → next eval answered);
- weave_reset → its reply, and the next `1+1` (before and after; after starts a fresh process).
After each death a weave_reset follows, so the restart limit (5 a minute) never applies.

Run: .venv/bin/python ops/bench/bench_kernel.py [--n 2000] [--stdio-n 500] [--restarts 10]
     [--before 2259ede] [--json F]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import anyio
import zmq
from mcp import Client, StdioServerParameters

from ops.bench.bench_mcp import ECHO_STDIO
from ops.bench.benchlib import Results, echo_router, header, latency_line, now_us, percentile
from vibeweaver.wire import envelope
from vibeweaver.wire.frames import build_multipart, new_request_id, parse_multipart, request_frame

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BEFORE = "2259ede"
"""The in-process kernel the issue's target refers to. (2c5fc3e, the parent of the kernel-process
commit, does not start: its persistence imports a config function that came with e928faf.)"""
SERVICE_FLAGS = ["--hootenanny", "none", "--broadcasts", "none", "--log-level", "warning"]
KILL_CELL = "import os; os._exit(1)"
ECHO_CALL: tuple[str, dict[str, Any]] = ("echo", {"text": "2"})
EVAL_CALL: tuple[str, dict[str, Any]] = ("weave_eval", {"code": "1+1"})


@dataclass(frozen=True, slots=True)
class Tree:
    """A copy of vibeweaver's sources, served with PYTHONPATH on it."""

    label: str
    root: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.root)
        env.pop("PYTHONSTARTUP", None)
        return env


def prepare_trees(before_rev: str, tmp: Path) -> tuple[Tree, Tree]:
    """Copy REV's tree and the working tree's package; check each imports itself."""
    before_root, after_root = tmp / "before", tmp / "after"
    before_root.mkdir()
    archive = subprocess.run(  # noqa: S603 - git with fixed arguments
        ["git", "-C", str(REPO), "archive", before_rev, "vibeweaver"],  # noqa: S607
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(before_root)], input=archive, check=True)  # noqa: S603, S607
    shutil.copytree(
        REPO / "vibeweaver",
        after_root / "vibeweaver",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    before, after = Tree("before", before_root), Tree("after", after_root)
    if (before_root / "vibeweaver" / "channel").exists():
        raise SystemExit(f"{before_rev} already has vibeweaver/channel: not an in-process kernel")
    if not (after_root / "vibeweaver" / "channel").is_dir():
        raise SystemExit("the working tree has no vibeweaver/channel: no kernel process to bench")
    for tree in (before, after):
        imported = subprocess.run(
            [sys.executable, "-c", "import vibeweaver; print(vibeweaver.__file__)"],
            env=tree.env,
            cwd=tree.root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if Path(imported).resolve().parent != (tree.root / "vibeweaver").resolve():
            raise SystemExit(f"{tree.label}: `import vibeweaver` found {imported}, not the copy")
    return before, after


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def kernel_children(pid: int) -> list[int]:
    """Child processes of `pid` running `vibeweaver.kernel`."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
                if b"vibeweaver.kernel" in cmdline:
                    found.append(int(child))
    return found


# -- the ROUTER side ---------------------------------------------------------------------------


class Dealer:
    """One DEALER to a ROUTER: a HOOT01 request, its reply and how long it took."""

    def __init__(self, context: zmq.Context[Any], endpoint: str) -> None:
        self.socket = context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTING_ID, os.urandom(8))
        self.socket.connect(endpoint)

    def call(
        self,
        request: envelope.InboundRequest,
        timeout_s: float = 60.0,
        alive: Callable[[], bool] | None = None,
    ) -> tuple[float, bytes]:
        """(µs, reply body) of one round trip; replies to earlier requests are skipped. Gives up
        when `alive` turns false (the server died)."""
        request_id = new_request_id()
        body = envelope.encode_request(request_id, request)
        frames = build_multipart((), request_frame(request_id, body))
        started = now_us()
        self.socket.send_multipart(frames)
        deadline = time.monotonic() + timeout_s
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0:
                raise SystemExit(f"no reply within {timeout_s:g} s to {request}")
            if not self.socket.poll(min(left, 200)):
                if alive is not None and not alive():
                    raise SystemExit(f"the server ended before answering {request}")
                continue
            raw = self.socket.recv_multipart()
            _, frame = parse_multipart(raw)
            if frame.request_id == request_id:
                return now_us() - started, frame.body

    def eval(
        self, code: str, timeout_s: float = 60.0, alive: Callable[[], bool] | None = None
    ) -> tuple[float, envelope.LinkAReply]:
        elapsed, body = self.call(envelope.WeaveEvalRequest(code=code), timeout_s, alive)
        return elapsed, envelope.decode_reply(body)

    def close(self) -> None:
        self.socket.close(0)


def answered_two(reply: envelope.LinkAReply) -> bool:
    return isinstance(reply, envelope.WeaveEvalReply) and reply.result.strip() == "2"


@dataclass
class Service:
    """`vibeweaver serve` from one tree, with its ROUTER on a free loopback port."""

    tree: Tree
    data_dir: Path
    endpoint: str = ""
    proc: subprocess.Popen[bytes] | None = None
    kernel_pids: list[int] = field(default_factory=list)

    def start(self, context: zmq.Context[Any]) -> Dealer:
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        log_path = self.data_dir.parent / f"{self.tree.label}-serve.log"
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
                [sys.executable, "-m", "vibeweaver", "serve", "--data-dir", str(self.data_dir),
                 "--router", self.endpoint, "--http", "none", *SERVICE_FLAGS],
                cwd=self.tree.root, env=self.tree.env, stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        proc = self.proc
        dealer = Dealer(context, self.endpoint)
        try:
            # queued by zmq until the ROUTER binds
            _, reply = dealer.eval("1+1", timeout_s=120.0, alive=lambda: proc.poll() is None)
        except SystemExit as exc:
            dealer.close()
            tail = log_path.read_text(errors="replace")[-1500:]
            raise SystemExit(
                f"{self.tree.label}: `vibeweaver serve` failed: {exc}\n{tail}"
            ) from None
        if not answered_two(reply):
            dealer.close()
            raise SystemExit(f"{self.tree.label}: first eval answered {reply}")
        self.kernel_pids = kernel_children(proc.pid)
        return dealer

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def rotated(items: list[Any], round_: int) -> list[Any]:
    shift = round_ % len(items)
    return items[shift:] + items[:shift]


def interleaved(
    targets: dict[str, Callable[[], float]], n: int, rounds: int, warm: int
) -> dict[str, list[float]]:
    """Call each target n times in `rounds` rounds, order rotating per round; µs samples."""
    for call in targets.values():
        for _ in range(warm):
            call()
    samples: dict[str, list[float]] = {name: [] for name in targets}
    per_round = max(1, n // rounds)
    for round_ in range(rounds):
        for name in rotated(list(targets), round_):
            call = targets[name]
            samples[name].extend(call() for _ in range(per_round))
    return samples


def eval_call(dealer: Dealer, label: str) -> Callable[[], float]:
    def call() -> float:
        elapsed, reply = dealer.eval("1+1")
        if not answered_two(reply):
            raise SystemExit(f"{label}: weaveEval 1+1 answered {reply}")
        return elapsed

    return call


def floor_call(dealer: Dealer) -> Callable[[], float]:
    ping = envelope.PingRequest()
    return lambda: dealer.call(ping)[0]


def restarts(dealer: Dealer, count: int) -> dict[str, list[float]]:
    """Kill the kernel with a cell, time the KernelDied reply and the next 1+1; reset after."""
    died, next_ok, total, reset, after_reset = [], [], [], [], []
    for _ in range(count):
        started = now_us()
        elapsed, reply = dealer.eval(KILL_CELL)
        if "KernelDied" not in str(reply):
            raise SystemExit(f"after: {KILL_CELL!r} answered {reply}")
        answered, reply = dealer.eval("1+1")
        if not answered_two(reply):
            raise SystemExit(f"after: 1+1 after the death answered {reply}")
        died.append(elapsed)
        next_ok.append(answered)
        total.append(now_us() - started)
        took, after = reset_once(dealer, "after")
        reset.append(took)
        after_reset.append(after)
    return {
        "death_reply": died,
        "death_to_next_eval": total,
        "died_reply_to_next_eval": next_ok,
        "reset": reset,
        "reset_next_eval": after_reset,
    }


def reset_once(dealer: Dealer, label: str) -> tuple[float, float]:
    """(µs of weave_reset, µs of the 1+1 right after it)."""
    took, body = dealer.call(envelope.WeaveResetRequest())
    reply = envelope.decode_reply(body)
    if not (isinstance(reply, envelope.WeaveResetReply) and reply.reset):
        raise SystemExit(f"{label}: weave_reset answered {reply}")
    after, evaluated = dealer.eval("1+1")
    if not answered_two(evaluated):
        raise SystemExit(f"{label}: 1+1 after weave_reset answered {evaluated}")
    return took, after


# -- MCP stdio ---------------------------------------------------------------------------------


def stdio_params(tree: Tree | None, data_dir: Path) -> StdioServerParameters:
    if tree is None:
        return StdioServerParameters(command=sys.executable, args=["-c", ECHO_STDIO])
    args = ["-m", "vibeweaver", "mcp", "--data-dir", str(data_dir), "--router", "none"]
    args += ["--http", "none", *SERVICE_FLAGS]
    args += ["--log-file", str(data_dir.parent / f"{tree.label}-mcp.log")]
    return StdioServerParameters(
        command=sys.executable,
        args=args,
        env={"PYTHONPATH": str(tree.root)},
        cwd=str(tree.root),
    )


async def stdio_rounds(
    servers: dict[str, StdioServerParameters], n: int, rounds: int
) -> dict[str, list[float]]:
    """weave_eval 1+1 (the echo tool for "floor") on every server, rounds interleaved."""
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(Client(params, read_timeout_seconds=60))
            for name, params in servers.items()
        }

        async def call(name: str) -> float:
            tool, arguments = ECHO_CALL if name == "floor" else EVAL_CALL
            started = time.perf_counter()
            result = await clients[name].call_tool(tool, arguments)
            elapsed = (time.perf_counter() - started) * 1e6
            text = " ".join(getattr(c, "text", "") for c in result.content)
            if result.is_error or "2" not in text:
                raise SystemExit(f"{name}: {tool} over stdio answered {text!r}")
            return elapsed

        for name in clients:
            for _ in range(min(20, n)):
                await call(name)
        samples: dict[str, list[float]] = {name: [] for name in clients}
        per_round = max(1, n // rounds)
        for round_ in range(rounds):
            for name in rotated(list(clients), round_):
                for _ in range(per_round):
                    samples[name].append(await call(name))
        return samples


# -- report ------------------------------------------------------------------------------------


def compare(title: str, samples: dict[str, list[float]], floor_name: str) -> dict[str, float]:
    print(f"## {title}")
    figures: dict[str, float] = {}
    for name in ("floor", "before", "after"):
        p50, p99 = latency_line(f"{floor_name if name == 'floor' else name}", samples[name])
        figures[f"{name}_p50_us"], figures[f"{name}_p99_us"] = p50, p99
    floor = figures["floor_p50_us"]
    ratio = figures["after_p50_us"] / figures["before_p50_us"]
    figures["after_vs_before_p50"] = ratio
    print(
        f"{'p50 x floor: before / after':<52} {figures['before_p50_us'] / floor:>9.2f} x"
        f"   {figures['after_p50_us'] / floor:>9.2f} x"
    )
    verdict = "met" if ratio <= 1.5 else "NOT met"
    print(f"{'after / before p50 (target ≤ 1.5x)':<52} {ratio:>9.2f} x   {verdict}")
    p99_ratio = figures["after_p99_us"] / figures["before_p99_us"]
    figures["after_vs_before_p99"] = p99_ratio
    print(f"{'after / before p99':<52} {p99_ratio:>9.2f} x")
    return figures


def ms_line(name: str, samples_us: list[float]) -> dict[str, float]:
    p50, top = percentile(samples_us, 0.5) / 1000, max(samples_us) / 1000
    print(f"{name:<52} p50 {p50:>8.1f} ms   max {top:>8.1f} ms   (n={len(samples_us)})")
    return {"p50_ms": p50, "max_ms": top}


@contextlib.contextmanager
def floor_router() -> Iterator[str]:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=echo_router, args=(endpoint, ready, stop), daemon=True)
    thread.start()
    ready.wait(5)
    try:
        yield endpoint
    finally:
        stop.set()
        thread.join(2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000, help="weaveEval round trips per tree")
    parser.add_argument("--stdio-n", type=int, default=500, help="MCP stdio calls per server")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--restarts", type=int, default=10, help="kernel deaths (and resets)")
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="the in-process commit")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rev = subprocess.run(  # noqa: S603 - git with fixed arguments
        ["git", "-C", str(REPO), "rev-parse", "--short", args.before],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    title = f"kernel in-process ({rev}, before) vs kernel process (this tree, after)"
    header(title)
    results = Results("bench_kernel", title)
    figures: dict[str, Any] = {"before_commit": rev}
    with tempfile.TemporaryDirectory(prefix="vw-kbench-") as tmp_name:
        tmp = Path(tmp_name)
        before, after = prepare_trees(args.before, tmp)
        context: zmq.Context[Any] = zmq.Context()
        services = {t.label: Service(t, tmp / f"{t.label}-data") for t in (before, after)}
        dealers: dict[str, Dealer] = {}
        try:
            with floor_router() as floor_endpoint:
                dealers["floor"] = Dealer(context, floor_endpoint)
                for label, service in services.items():
                    dealers[label] = service.start(context)
                if services["before"].kernel_pids or not services["after"].kernel_pids:
                    raise SystemExit(
                        f"kernel children: before {services['before'].kernel_pids}, "
                        f"after {services['after'].kernel_pids} (want none, one)"
                    )
                zmq_samples = interleaved(
                    {
                        "floor": floor_call(dealers["floor"]),
                        "before": eval_call(dealers["before"], "before"),
                        "after": eval_call(dealers["after"], "after"),
                    },
                    args.n,
                    args.rounds,
                    warm=min(50, args.n),
                )
            floor_name = "floor: raw pyzmq ROUTER echo (7 frames)"
            figures["zmq"] = compare(
                "weaveEval 1+1 → Reply over the ROUTER", zmq_samples, floor_name
            )

            print("## kernel restart and weave_reset (over the ROUTER)")
            before_resets = [reset_once(dealers["before"], "before") for _ in range(args.restarts)]
            after_runs = restarts(dealers["after"], args.restarts)
            lines = [
                ("restart", "death_reply", f"after: {KILL_CELL!r} → KernelDied reply"),
                ("restart", "death_to_next_eval", "after: death → next 1+1 answered"),
                (
                    "restart",
                    "died_reply_to_next_eval",
                    "after:   of which KernelDied → 1+1 answered",
                ),
                ("reset", "before", "before: weave_reset → reply"),
                ("reset", "after", "after: weave_reset → reply (fresh process)"),
                ("reset", "before_next_eval", "before: 1+1 right after the reset"),
                ("reset", "after_next_eval", "after: 1+1 right after the reset"),
            ]
            measured = {
                **after_runs,
                "before": [took for took, _ in before_resets],
                "before_next_eval": [after for _, after in before_resets],
                "after": after_runs["reset"],
                "after_next_eval": after_runs["reset_next_eval"],
            }
            figures["restart"], figures["reset"] = {}, {}
            for group, key, title in lines:
                figures[group][key] = ms_line(title, measured[key])
        finally:
            for dealer in dealers.values():
                dealer.close()
            for service in services.values():
                service.stop()
            context.destroy(linger=0)

        stdio_samples = anyio.run(
            stdio_rounds,
            {
                "floor": stdio_params(None, tmp),
                "before": stdio_params(before, tmp / "before-mcp-data"),
                "after": stdio_params(after, tmp / "after-mcp-data"),
            },
            args.stdio_n,
            args.rounds,
        )
        figures["stdio"] = compare(
            "weave_eval 1+1 over MCP stdio", stdio_samples, "floor: echo tool over stdio, same SDK"
        )
    record(results, figures, rev)
    results.write(args.json)


def record(results: Results, figures: dict[str, Any], rev: str) -> None:
    """The figures in the common shape; the target (SPEC §5, over ZeroMQ) is after ≤ 1.5x before."""
    for key, what, floor_label in (
        ("zmq", "weaveEval 1+1 → Reply over the ROUTER", "raw pyzmq ROUTER echo (7 frames)"),
        ("stdio", "weave_eval 1+1 over MCP stdio", "echo tool over stdio, same SDK"),
    ):
        group = figures[key]
        for stat in ("p50", "p99"):
            for tree, label in (
                ("before", f"in-process kernel ({rev})"),
                ("after", "kernel process"),
            ):
                results.add(
                    f"{key}_{tree}_{stat}_us",
                    group[f"{tree}_{stat}_us"],
                    "µs",
                    f"{what}, {label}, {stat}",
                    floor=group[f"floor_{stat}_us"],
                    floor_label=f"{floor_label}, {stat}",
                )
        results.add(  # issue [7] asks this of both: over ZeroMQ and over MCP stdio
            f"{key}_after_vs_before_p50",
            group["after_p50_us"],
            "µs",
            f"{what}, kernel process p50 vs the in-process kernel's",
            floor=group["before_p50_us"],
            floor_label=f"in-process kernel ({rev}) p50, same run",
            target="≤ 1.5x (SPEC §5, [7] must-show 5)",
            met=group["after_vs_before_p50"] <= 1.5,
        )
    for group, key, label in (
        ("restart", "death_to_next_eval", "kernel death → next 1+1 answered"),
        ("reset", "after", "weave_reset → reply (a fresh kernel process)"),
    ):
        for stat in ("p50_ms", "max_ms"):
            results.add(
                f"{group}_{key}_{stat}",
                figures[group][key][stat],
                "ms",
                f"{label}, {stat.removesuffix('_ms')}",
            )
    results.details.update(figures)


if __name__ == "__main__":
    main()
