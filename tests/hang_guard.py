"""A test that hangs ends the run at once, with every stack printed, instead of stalling it
until CI's time runs out with nothing to go on.

Past ``SIGAP_TEST_HANG_S`` (default 300 s; the longest test, a fault-harness run, takes about
70 s) of one test's setup, call and teardown, a watchdog thread prints the test's id, every
asyncio task's stack (where an async hang is, the main thread only shows the selector) and
every thread's, then exits the run with status 70.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import io
import os
import threading
from collections.abc import Iterator

import pytest

LIMIT_S = float(os.environ.get("SIGAP_TEST_HANG_S", "300"))
EXIT_STATUS = 70  # EX_SOFTWARE
# The terminal's stderr, kept before pytest's capture replaces file descriptor 2 (this plugin is
# loaded with ``-p``, ahead of the capture): what is captured is lost when the run exits.
_TERMINAL = os.fdopen(os.dup(2), "w", buffering=1)


def _task_stacks(loop: asyncio.AbstractEventLoop) -> str:
    out = io.StringIO()
    for task in asyncio.all_tasks(loop):
        out.write(f"--- {task!r}\n")
        task.print_stack(file=out)
    return out.getvalue()


def _report_and_exit(nodeid: str) -> None:
    err = _TERMINAL
    err.write(f"\n\n==== HUNG: {nodeid} ran past {LIMIT_S:.0f} s; stacks follow\n")
    loops = [
        obj
        for obj in gc.get_objects()
        if isinstance(obj, asyncio.AbstractEventLoop) and obj.is_running()
    ]
    for loop in loops:
        printed = threading.Event()

        def dump(on: asyncio.AbstractEventLoop = loop, done: threading.Event = printed) -> None:
            err.write(f"==== asyncio tasks\n{_task_stacks(on)}")
            done.set()

        loop.call_soon_threadsafe(dump)
        if not printed.wait(5):
            err.write("==== the event loop is blocked: see the main thread's stack\n")
    err.write("==== threads\n")
    err.flush()
    faulthandler.dump_traceback(file=err, all_threads=True)
    err.flush()
    os._exit(EXIT_STATUS)


def pytest_unconfigure() -> None:
    _TERMINAL.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    watchdog = threading.Timer(LIMIT_S, _report_and_exit, args=(item.nodeid,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()
