"""The nemesis: faults done to a running deployment, one at a time, each recorded in the history.

* ``crash``: ``pg_ctl stop -m immediate`` (no checkpoint: a power cut), ``down_s`` later start
  again (crash recovery);
* ``kill``: SIGKILL one uvicorn worker process (the supervisor starts a new one);
* ``latency``: every chunk between Sigap and PostgreSQL delayed by ``latency_s`` for a while;
* ``reset``: every connection between Sigap and PostgreSQL reset at once;
* ``blackhole``: nothing passes between Sigap and PostgreSQL for ``blackhole_s``.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadtests.faults.history import Fault, History
from loadtests.faults.proxy import FaultProxy
from tests.pgcluster import PgCluster


@dataclass(frozen=True)
class FaultPlan:
    crashes: int = 5
    kills: int = 12
    latency_episodes: int = 1
    resets: int = 3
    blackholes: int = 1
    down_s: float = 2.0
    latency_s: float = 0.2
    latency_for_s: float = 10.0
    blackhole_s: float = 20.0

    def kinds(self, seed: int) -> list[str]:
        kinds = ["crash"] * self.crashes + ["kill"] * self.kills + ["reset"] * self.resets
        kinds += ["latency"] * self.latency_episodes + ["blackhole"] * self.blackholes
        random.Random(seed).shuffle(kinds)
        return kinds

    def busy_s(self) -> float:
        """Time the faults themselves take (a crash's restart is about a second more)."""
        return (
            self.crashes * (self.down_s + 1.5)
            + self.latency_episodes * self.latency_for_s
            + self.blackholes * self.blackhole_s
        )


def worker_pids(master: int) -> list[int]:
    """uvicorn's worker processes: the master's children that are multiprocessing spawns."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    pids = []
    for child in children:
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
            pids.append(int(child))
    return pids


class Nemesis:
    def __init__(
        self,
        cluster: PgCluster,
        proxy: FaultProxy,
        server_pid: int,
        history: History,
        *,
        say: Callable[[str], None],
        seed: int = 7,
    ) -> None:
        self.cluster, self.proxy, self.server_pid = cluster, proxy, server_pid
        self.history = history
        self.say = say
        self.rng = random.Random(seed)

    async def run(self, plan: FaultPlan, *, start_after_s: float, end_at: float) -> None:
        """Every fault, spread evenly over the time left before ``end_at`` (loop time), so the
        last one still has load after it however long the earlier ones took."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(start_after_s)
        kinds = plan.kinds(self.rng.randrange(1 << 30))
        for index, kind in enumerate(kinds):
            await self.do(kind, plan)
            left = len(kinds) - index - 1
            if left:
                room = end_at - loop.time() - (plan.busy_s() * left / len(kinds))
                await asyncio.sleep(max(0.5, room / (left + 1)) * self.rng.uniform(0.8, 1.2))

    async def do(self, kind: str, plan: FaultPlan) -> Fault:
        loop = asyncio.get_running_loop()
        started = loop.time()
        detail = ""
        if kind == "crash":
            await asyncio.to_thread(self.cluster.crash)
            await asyncio.sleep(plan.down_s)
            await asyncio.to_thread(self.cluster.start)
        elif kind == "kill":
            pids = worker_pids(self.server_pid)
            if pids:
                victim = self.rng.choice(pids)
                os.kill(victim, signal.SIGKILL)
                detail = f"worker {victim} of {len(pids)}"
            else:
                detail = "no worker found"
        elif kind == "latency":
            self.proxy.latency_s = plan.latency_s
            await asyncio.sleep(plan.latency_for_s)
            self.proxy.latency_s = 0.0
            detail = f"{plan.latency_s * 1000:.0f} ms for {plan.latency_for_s:.0f} s"
        elif kind == "reset":
            detail = f"{self.proxy.reset()} sockets reset"
        elif kind == "blackhole":
            self.proxy.blackhole(True)
            await asyncio.sleep(plan.blackhole_s)
            self.proxy.blackhole(False)
            detail = f"{plan.blackhole_s:.0f} s"
        else:
            raise ValueError(f"unknown fault {kind!r}")
        fault = Fault(kind, started, loop.time(), detail)
        self.history.faults.append(fault)
        self.say(f"  fault {len(self.history.faults):2d}: {kind} {detail}")
        return fault
