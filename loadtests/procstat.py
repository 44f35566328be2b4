"""Who used the CPU during a step: the server's processes, PostgreSQL, the generator, the rest.

Reads cumulative CPU times from ``/proc`` (Linux only) at the start and the end of a step and
reports the difference as a share of one core (100 % = one core busy for the whole step), plus
the machine's busy, idle and steal shares of all its cores from ``/proc/stat``.

PostgreSQL backends are split by their process title: those serving the benchmark database
(``postgres: ... <db> ...``) and everything else PostgreSQL runs (WAL writer, checkpointer,
backends of other databases - other people's tests on a shared server show up there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_TICKS = os.sysconf("SC_CLK_TCK")

GROUPS = ("server", "pg_bench", "pg_other", "generator")


def _cpu_ticks(pid: int) -> tuple[int, int] | None:
    """(user + system ticks, parent pid) of a process, or None if it is gone."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # After the command: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime ... (proc(5)), so ppid is fields[1], utime fields[11], stime fields[12].
    return int(fields[11]) + int(fields[12]), int(fields[1])


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in _PROC.iterdir() if entry.name.isdigit()]


def _classify(root_pid: int | None, database: str) -> dict[int, str]:
    """Map pid -> group for every process the step cares about."""
    parents: dict[int, int] = {}
    groups: dict[int, str] = {os.getpid(): "generator"}
    for pid in _all_pids():
        info = _cpu_ticks(pid)
        if info is None:
            continue
        parents[pid] = info[1]
        if _read(_PROC / str(pid) / "comm").strip() == "postgres":
            title = _read(_PROC / str(pid) / "cmdline").replace("\0", " ")
            groups[pid] = "pg_bench" if f" {database} " in title else "pg_other"
    if root_pid is not None:
        for pid in parents:
            ancestor: int | None = pid
            while ancestor is not None and ancestor > 1:
                if ancestor == root_pid:
                    groups[pid] = "server"
                    break
                ancestor = parents.get(ancestor)
    return groups


def _machine_ticks() -> tuple[int, int, int]:
    """(busy, idle, steal) ticks summed over all cores since boot."""
    values = [int(v) for v in _read(_PROC / "stat").splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return user + nice + system + irq + softirq, idle + iowait, steal


@dataclass(frozen=True)
class Snapshot:
    wall: float
    per_pid: dict[int, tuple[str, int]]
    machine: tuple[int, int, int]

    @classmethod
    def take(cls, *, server_pid: int | None, database: str, wall: float) -> Snapshot:
        per_pid: dict[int, tuple[str, int]] = {}
        for pid, group in _classify(server_pid, database).items():
            info = _cpu_ticks(pid)
            if info is not None:
                per_pid[pid] = (group, info[0])
        return cls(wall=wall, per_pid=per_pid, machine=_machine_ticks())


@dataclass(frozen=True)
class CpuUsage:
    """CPU between two snapshots. Groups in % of one core; machine figures in % of all cores."""

    seconds: float
    cores: int
    groups: dict[str, float]
    machine_busy: float
    machine_idle: float
    steal: float

    @classmethod
    def between(cls, start: Snapshot, end: Snapshot) -> CpuUsage:
        seconds = max(end.wall - start.wall, 1e-9)
        totals = dict.fromkeys(GROUPS, 0)
        for pid, (group, ticks) in end.per_pid.items():
            before = start.per_pid.get(pid)
            totals[group] += ticks - (before[1] if before else 0)
        busy, idle, steal = (b - a for a, b in zip(start.machine, end.machine, strict=True))
        all_ticks = max(busy + idle + steal, 1)
        return cls(
            seconds=seconds,
            cores=os.cpu_count() or 1,
            groups={g: 100 * t / _TICKS / seconds for g, t in totals.items()},
            machine_busy=100 * busy / all_ticks,
            machine_idle=100 * idle / all_ticks,
            steal=100 * steal / all_ticks,
        )

    @property
    def other(self) -> float:
        """Busy CPU (in % of one core) not used by any group: other processes, interrupts."""
        return max(0.0, self.machine_busy * self.cores - sum(self.groups.values()))

    def describe(self) -> str:
        g = self.groups
        return (
            f"srv {g['server']:3.0f}% pg {g['pg_bench']:3.0f}%+{g['pg_other']:2.0f}% "
            f"gen {g['generator']:3.0f}% oth {self.other:3.0f}% "
            f"idle {self.machine_idle:3.0f}%"
            + (f" steal {self.steal:.0f}%" if self.steal >= 1 else "")
        )
