"""``python -m loadtests.faults``: the full run (a few minutes), ``--quick`` or ``--control``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from collections import Counter

from loadtests.faults.harness import Config, run
from loadtests.faults.nemesis import FaultPlan


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # asyncio.run then cancels the run: its cleanup removes the cluster


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(prog="python -m loadtests.faults", description=__doc__)
    parser.add_argument("--rate", type=float, default=2000.0, help="presses per minute")
    parser.add_argument("--seconds", type=float, default=240.0, help="length of the load")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--crashes", type=int, default=5)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--resets", type=int, default=3)
    parser.add_argument("--blackhole-s", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="30 s, one fault of each kind")
    parser.add_argument("--control", action="store_true", help="only the negative control")
    parser.add_argument("--no-control", action="store_true", help="skip the negative control")
    args = parser.parse_args()
    plan = FaultPlan(crashes=args.crashes, kills=args.kills, resets=args.resets,
                     blackhole_s=args.blackhole_s)
    config = Config(rate_per_min=args.rate, duration_s=args.seconds, workers=args.workers,
                    plan=plan)
    if args.quick:
        config = dataclasses.replace(
            config, duration_s=30.0, rate_per_min=min(args.rate, 900.0),
            plan=FaultPlan(crashes=1, kills=1, resets=1, latency_episodes=0, blackholes=0),
        )
    status = 0
    if not args.control:
        print(f"== fault run: {config.rate_per_min:g}/min for {config.duration_s:g} s, "
              f"{config.workers} workers, faults {dict(Counter(config.plan.kinds(0)))}")
        report = asyncio.run(run(config))
        print("\n".join(report.lines()))
        status |= 0 if report.verdict.clean else 1
    if not args.no_control:
        control = Config(rate_per_min=600.0, duration_s=8.0, workers=2, control=True,
                         give_up_s=10.0)
        print("== negative control: answered before commit, held 1 s, one crash in the window")
        report = asyncio.run(run(control))
        print("\n".join(report.lines()))
        found = report.verdict.errors.get("lost", 0)
        print(f"negative control: {found} acknowledged alerts lost (must be > 0)")
        status |= 0 if found > 0 else 2
    return status


if __name__ == "__main__":
    sys.exit(main())
