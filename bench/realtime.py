"""Benchmark of the real-time path (issue 5): hub, ``/ws`` and the polling endpoint.

Everything runs on this machine over loopback: a private redis-server, one server process
(uvicorn running ``create_app``), and the load generator in a separate process (this file
run with ``_loadgen``). Events are appended through the real ``EventLog`` — what workers
do — with the publish time in their data, so latency is worker-publish → client-receive.

1. latency p50/p99 with SOCKETS sockets watching PROJECTS projects (goal p99 ≤ 20 ms), and
   the events/s one process fans out, for each WebSocket implementation and event loop;
2. the most idle sockets one process holds (goal 10,000) and its RSS per socket (≤ 40 KiB);
3. polling endpoint p99 with POLLERS pollers every 10 s (goal ≤ 10 ms).

Bounded: each phase has a fixed duration; the whole run takes about four minutes on two
cores. ``--quick`` shrinks every figure for a smoke run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.adapters.auth import issue_token
from server.commands.web import EVENT_LOOP, WS_PROTOCOL
from server.domain.events import EventLog
from tests.conftest import RedisServer
from tests.media import make_video
from tests.realtime.servers import JWT_SECRET, WebServer

PROJECTS = 100
SOCKETS = 1_000
LATENCY_RATE = 200  # events/s during the latency phase (x10 deliveries)
LATENCY_S = 6.0
BURST = 5_000  # events appended as fast as possible for the fan-out figure
IDLE_SOCKETS = 10_000
POLLERS = 1_000
POLL_EVERY_S = 10.0
POLL_S = 20.0
PHASES = ("fanout", "idle", "poll")
ROUNDS = 2  # each variant runs this often, interleaved; its best round counts
#: (uvicorn --ws, --loop) compared; the first is uvicorn's "auto" choice. All run without
#: per-message deflate, as ``reelay web`` does (zlib contexts cost ~100 KiB per socket).
VARIANTS = [
    ("websockets-sansio", "uvloop"),
    ("websockets", "uvloop"),
    ("wsproto", "uvloop"),
    ("websockets-sansio", "asyncio"),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


# ---------------------------------------------------------------- load generator process


async def _open(url: str, user: str, project: str | None, since: int = 0) -> Any:
    from websockets.asyncio.client import connect

    ws = await connect(url, open_timeout=30, ping_interval=None, max_queue=None)
    await ws.send(json.dumps({"type": "auth", "token": issue_token(JWT_SECRET, user)}))
    await ws.recv()
    if project is not None:
        await ws.send(json.dumps({"type": "subscribe", "project_id": project, "since": since}))
        while json.loads(await ws.recv())["type"] != "subscribed":
            pass
    return ws


async def _open_many(url: str, pairs: list[tuple[str, str | None]], since: int = 0) -> list[Any]:
    gate = asyncio.Semaphore(200)

    async def one(user: str, project: str | None) -> Any:
        async with gate:
            return await _open(url, user, project, since)

    results = await asyncio.gather(*(one(u, p) for u, p in pairs), return_exceptions=True)
    return [r for r in results if not isinstance(r, BaseException)]


async def _listen(cfg: dict[str, Any]) -> dict[str, Any]:
    """Sockets watching projects; record every event's latency until told to stop."""
    pairs = [(cfg["user"], cfg["projects"][i % len(cfg["projects"])]) for i in range(cfg["n"])]
    sockets = await _open_many(cfg["url"], pairs, cfg.get("since", 0))
    latencies: list[float] = []
    last = [0.0]

    async def read(ws: Any) -> None:
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            if message["type"] == "event":
                latencies.append(now - message["event"]["data"]["sent"])
                last[0] = now
            elif message["type"] == "ping":
                await ws.send('{"type":"pong"}')

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    quiet_gc()
    print(json.dumps({"ready": len(sockets)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for task in readers:
        task.cancel()
    return {"latencies": latencies, "last": last[0], "sockets": len(sockets)}


async def _idle(cfg: dict[str, Any]) -> dict[str, Any]:
    """Open idle authenticated sockets (each watching a project) until told to stop."""
    pairs = [(cfg["user"], cfg["projects"][i % len(cfg["projects"])]) for i in range(cfg["n"])]
    sockets = await _open_many(cfg["url"], pairs, since=10**9)
    print(json.dumps({"ready": len(sockets)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return {"sockets": len(sockets)}


async def _get(host: str, port: int, path: str, headers: str) -> bytes:
    """One HTTP/1.1 GET on a new connection (a 10 s poll outlives uvicorn's 5 s keep-alive).

    Hand-rolled so the generator's own cost stays out of the measured latency.
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        return await reader.readexactly(length)
    finally:
        writer.close()


async def _poll(cfg: dict[str, Any]) -> dict[str, Any]:
    """POLLERS clients polling every POLL_EVERY_S with their cursor, for POLL_S."""
    headers = f"Authorization: Bearer {issue_token(JWT_SECRET, cfg['user'])}\r\n"
    host, port = cfg["host"], cfg["port"]
    latencies: list[float] = []
    quiet_gc()
    print(json.dumps({"ready": cfg["n"]}), flush=True)

    async def poller(index: int) -> None:
        project = cfg["projects"][index % len(cfg["projects"])]
        cursor = 10**9  # past the end: the first answer is a cheap reset with last_seq
        await asyncio.sleep(random.random() * POLL_EVERY_S)
        deadline = time.monotonic() + cfg["seconds"]
        while time.monotonic() < deadline:
            started = time.perf_counter()
            body = await _get(host, port, f"/api/projects/{project}/events?since={cursor}", headers)
            latencies.append(time.perf_counter() - started)
            cursor = json.loads(body)["last_seq"]
            await asyncio.sleep(POLL_EVERY_S)

    await asyncio.gather(*(poller(i) for i in range(cfg["n"])))
    return {"latencies": latencies}


def quiet_gc() -> None:
    """The generator's own GC pauses would count as server latency: none while measuring."""
    gc.collect()
    gc.freeze()
    gc.disable()


def loadgen(cfg: dict[str, Any]) -> None:
    import uvloop

    mode = {"listen": _listen, "idle": _idle, "poll": _poll}[cfg["mode"]]
    result = uvloop.run(mode(cfg))
    Path(cfg["out"]).write_text(json.dumps(result))
    print(json.dumps({"done": True}), flush=True)


# ---------------------------------------------------------------- the orchestrating side


class Generator:
    """The load generator child process; ``ready()`` once connected, ``finish()`` results."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        handle, name = tempfile.mkstemp(prefix="reelay-loadgen-", suffix=".json")
        os.close(handle)
        self.out = Path(name)
        self.process = subprocess.Popen(
            [sys.executable, __file__, "_loadgen", json.dumps({**cfg, "out": str(self.out)})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ready(self) -> int:
        assert self.process.stdout is not None
        return int(json.loads(self.process.stdout.readline())["ready"])

    def finish(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("stop\n")
        self.process.stdin.flush()
        self.process.stdout.readline()
        self.process.wait(timeout=60)
        result = dict(json.loads(self.out.read_text()))
        self.out.unlink()
        return result


async def publish(log: EventLog, projects: list[str], rate: float, seconds: float) -> int:
    """Append events at ``rate``/s, round-robin over ``projects``; how many were sent."""
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        due = int((time.monotonic() - started) * rate)
        while sent < due:
            project = projects[sent % len(projects)]
            await log.append(project, "export.progress", data={"sent": time.time()})
            sent += 1
        await asyncio.sleep(0.002)
    return sent


async def burst(log: EventLog, projects: list[str], count: int) -> float:
    """Append ``count`` events as fast as 50 concurrent appenders go; the start time."""
    started = time.time()
    queue = list(range(count))

    async def appender() -> None:
        while queue:
            index = queue.pop()
            await log.append(projects[index % len(projects)], "export.progress",
                             data={"sent": time.time()})  # fmt: skip

    await asyncio.gather(*(appender() for _ in range(50)))
    return started


def best_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """A variant's best round: lowest latencies, highest throughput (noise only adds)."""
    best = dict(runs[0])
    for run in runs[1:]:
        for key in ("p50_ms", "p99_ms"):
            best[key] = min(best[key], run[key])
        for key in ("deliveries_per_s", "events_in_per_s", "delivered_ratio"):
            best[key] = max(best[key], run[key])
    return best


def make_projects(server: WebServer, user: str, video: Path, count: int) -> list[str]:
    headers = {"Authorization": f"Bearer {issue_token(JWT_SECRET, user)}"}
    projects = []
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as client:
        for _ in range(count):
            with video.open("rb") as handle:
                answer = client.post(
                    "/api/projects", files={"file": ("v.mp4", handle, "video/mp4")}
                )
            answer.raise_for_status()
            projects.append(answer.json()["id"])
    return projects


def start(tmp: Path, redis: RedisServer, ws: str, loop: str, name: str) -> WebServer:
    """A server process: ``reelay web`` itself for its own ws/loop, else uvicorn with those."""
    server = WebServer(
        tmp / name,
        redis_url=redis.url,
        database_url=f"sqlite://{tmp / 'bench.sqlite3'}",
        ws=ws,
        loop=loop,
        env={"REELAY_WS_MAX_SOCKETS_PER_USER": "100000", "REELAY_LOG_LEVEL": "warning"},
        reelay_web=(ws, loop) == (WS_PROTOCOL, EVENT_LOOP),
    )
    server.start()
    return server


async def fanout_phase(
    server: WebServer, log: EventLog, projects: list[str], sockets: int, sizes: dict[str, Any]
) -> dict[str, float]:
    gen = Generator(
        {"mode": "listen", "url": server.ws_url, "user": "bench", "projects": projects,
         "n": sockets, "since": 10**9}
    )  # fmt: skip
    connected = gen.ready()
    await asyncio.sleep(0.5)
    await publish(log, projects, sizes["rate"], sizes["latency_s"])
    await asyncio.sleep(1.0)
    latency = gen.finish()["latencies"]
    gen = Generator(
        {"mode": "listen", "url": server.ws_url, "user": "bench", "projects": projects,
         "n": sockets, "since": 10**9}
    )  # fmt: skip
    gen.ready()
    started = await burst(log, projects, sizes["burst"])
    expected = sizes["burst"] * sockets // len(projects)
    await asyncio.sleep(3.0)
    result = gen.finish()
    delivered = len(result["latencies"])
    elapsed = max(result["last"] - started, 1e-6)
    return {
        "sockets": connected,
        "p50_ms": pct(latency, 0.5) * 1000,
        "p99_ms": pct(latency, 0.99) * 1000,
        "received": len(latency),
        "events_in_per_s": sizes["burst"] / elapsed,
        "deliveries_per_s": delivered / elapsed,
        "delivered_ratio": delivered / expected,
    }


async def idle_phase(
    tmp: Path, redis_server: RedisServer, chosen: tuple[str, str], projects: list[str], n: int
) -> None:
    server = start(tmp, redis_server, *chosen, "idle")
    try:
        await asyncio.sleep(1.0)
        assert server.process is not None
        process = psutil.Process(server.process.pid)
        rss_before = process.memory_info().rss
        gen = Generator(
            {"mode": "idle", "url": server.ws_url, "user": "bench", "projects": projects, "n": n}
        )
        held = gen.ready()
        await asyncio.sleep(2.0)
        per_socket = (process.memory_info().rss - rss_before) / max(held, 1) / 1024
        health = await asyncio.to_thread(httpx.get, f"{server.base_url}/healthz")
        gen.finish()
    finally:
        server.stop()
    print(
        f"idle sockets held: {held} of {n} (goal 10000), "
        f"RSS {per_socket:.1f} KiB/socket (goal <= 40), healthz {health.status_code}"
    )


async def poll_phase(
    tmp: Path,
    redis_server: RedisServer,
    chosen: tuple[str, str],
    projects: list[str],
    sizes: dict[str, Any],
) -> None:
    server = start(tmp, redis_server, *chosen, "poll")
    try:
        gen = Generator(
            {"mode": "poll", "host": "127.0.0.1", "port": server.port, "user": "bench",
             "projects": projects, "n": sizes["pollers"], "seconds": sizes["poll_s"]}
        )  # fmt: skip
        gen.ready()
        polls = gen.finish()["latencies"]
    finally:
        server.stop()
    print(
        f"polling: {len(polls)} requests from {sizes['pollers']} pollers every "
        f"{POLL_EVERY_S:.0f} s: p50 {pct(polls, 0.5) * 1000:.2f} ms, "
        f"p99 {pct(polls, 0.99) * 1000:.2f} ms (goal <= 10), "
        f"mean {statistics.fmean(polls) * 1000:.2f} ms"
    )


async def main(quick: bool, phases: set[str]) -> None:
    sizes = {
        "projects": 10 if quick else PROJECTS,
        "sockets": 100 if quick else SOCKETS,
        "rate": 50 if quick else LATENCY_RATE,
        "latency_s": 2.0 if quick else LATENCY_S,
        "burst": 500 if quick else BURST,
        "idle": 500 if quick else IDLE_SOCKETS,
        "pollers": 50 if quick else POLLERS,
        "poll_s": 4.0 if quick else POLL_S,
    }
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reelay-bench-rt-") as raw:
        tmp = Path(raw)
        redis_server = RedisServer(workdir=tmp)
        redis_server.start()
        client = redis.asyncio.Redis.from_url(redis_server.url)
        log = EventLog(client, maxlen=1_000, max_age_s=3600)
        video = make_video(tmp / "tiny.mp4", duration_s=1.0, width=64, height=48)
        try:
            first = start(tmp, redis_server, *VARIANTS[0], "setup")
            projects = make_projects(first, "bench", video, sizes["projects"])
            first.stop()
            print(f"{len(projects)} projects; {sizes['sockets']} sockets; "
                  f"{sizes['rate']} events/s for {sizes['latency_s']} s")  # fmt: skip
            rounds: dict[tuple[str, str], list[dict[str, float]]] = {v: [] for v in VARIANTS}
            for round_index in range(ROUNDS if "fanout" in phases else 0):
                for ws, loop in VARIANTS:
                    name = f"{ws}-{loop}-{round_index}"
                    server = start(tmp, redis_server, ws, loop, name)
                    try:
                        figure = await fanout_phase(server, log, projects, sizes["sockets"], sizes)
                    finally:
                        server.stop()
                    rounds[ws, loop].append(figure)
            figures = {variant: best_of(runs) for variant, runs in rounds.items() if runs}
            for (ws, loop), f in figures.items():
                print(
                    f"  {ws:>17} + {loop:<7} latency p50 {f['p50_ms']:6.2f} ms  "
                    f"p99 {f['p99_ms']:6.2f} ms (goal <= 20)  fan-out "
                    f"{f['deliveries_per_s']:8.0f} msg/s ({f['events_in_per_s']:6.0f} events/s"
                    f" in, {f['delivered_ratio']:.0%} delivered)"
                )
            if figures:
                best = max(figures, key=lambda k: figures[k]["deliveries_per_s"])
                print(f"fastest fan-out: --ws {best[0]} --loop {best[1]}")
            print(f"reelay web runs --ws {WS_PROTOCOL} --loop {EVENT_LOOP}")
            chosen = (WS_PROTOCOL, EVENT_LOOP)

            if "idle" in phases:
                await idle_phase(tmp, redis_server, chosen, projects, sizes["idle"])
            if "poll" in phases:
                await poll_phase(tmp, redis_server, chosen, projects, sizes)
        finally:
            await client.aclose()
            redis_server.stop()
    print(f"bench/realtime.py took {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_loadgen":
        loadgen(json.loads(sys.argv[2]))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run")
        parser.add_argument(
            "--phase", action="append", choices=PHASES, help="run only these (default: all)"
        )
        args = parser.parse_args()
        asyncio.run(main(args.quick, set(args.phase or PHASES)))
