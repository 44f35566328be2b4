"""A busy process beside the test: a subprocess that spins one core until stopped.

CI machines are shared; tests that pass only on an idle machine land by luck. Tests that are
about load (the 500-concurrent press) run with a burner to prove they hold when a neighbour
takes a whole core. Use ``with burning():`` or the ``burner`` fixture in tests/conftest.py.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_SPIN = "while True:\n    pass\n"


@contextmanager
def burning(cores: int = 1) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Spin ``cores`` busy subprocesses for the duration of the block."""
    spinners = [
        subprocess.Popen([sys.executable, "-c", _SPIN], stdin=subprocess.DEVNULL)
        for _ in range(cores)
    ]
    try:
        yield spinners
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait()
