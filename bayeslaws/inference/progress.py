"""Progress of a long NUTS run on stderr: iterations done, elapsed time and time left.

The compiled sampler calls ``report(iteration)`` from inside its scan every tenth of the run (a
``jax.debug.callback``); the reporter that ``reporting`` opens around the call prints one line per
tenth of the work. On CPU each chain is its own program (several at once, in threads); each
reports its own iterations, and the line counts the iterations of all of them. Time left is
extrapolated from the iterations done so far, warmup included (warmup iterations are usually the
slower ones, so the estimate errs long early on).

Only the programs of long fits carry the callback (``is_long``): a program with a host callback
cannot be exported (jax.export), so it is traced in every new process, which short fits, whose
compile time is most of their cost, cannot afford.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager

import numpy as np

REPORTS = 10  # lines per run
LONG_FIT_WORK = 5e7  # data elements x iterations x chains above which a fit shows its progress

_active: list = []  # the reporter of the run under way (at most one; guarded by _lock)
_lock = threading.Lock()


def is_long(data: dict, iterations: int, chains: int) -> bool:
    """Whether a fit of this data (the model's arrays) is long enough to show its progress."""
    import jax

    size = sum(int(np.size(leaf)) for leaf in jax.tree.leaves(data))
    return size * iterations * chains > LONG_FIT_WORK


def every(iterations: int) -> int:
    """Iterations between two reports."""
    return max(1, -(-iterations // REPORTS))


class Reporter:
    """Prints 'NUTS 40 % (3200 / 8000 iterations of 4 chains), 12 s, about 18 s left' lines."""

    def __init__(self, warmup: int, draws: int, programs: int = 1, stream=None):
        self.iterations, self.programs = warmup + draws, programs
        self.interval = every(self.iterations)
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.reports, self.printed = 0, 0

    def update(self, iteration: int) -> None:
        """One program reached ``iteration`` (a multiple of the interval between reports)."""
        self.reports += 1
        done = min(self.reports * self.interval, self.iterations * self.programs)
        total = self.iterations * self.programs
        tenth = done * REPORTS // total
        if tenth <= self.printed:
            return
        self.printed = tenth
        elapsed = time.perf_counter() - self.started
        left = elapsed * (total - done) / done
        chains = f" of {self.programs} chains" if self.programs > 1 else ""
        print(f"bayeslaws: NUTS {100 * done / total:3.0f} % ({done} / {total} iterations{chains}), "
              f"{elapsed:.0f} s, about {left:.0f} s left", file=self.stream, flush=True)


def report(iteration) -> None:
    """The sampler's callback: pass the iteration count to the open reporter, if any."""
    with _lock:
        if _active:
            _active[0].update(int(iteration))


@contextmanager
def reporting(warmup: int, draws: int, programs: int = 1, stream=None):
    """Open a reporter for one run of the sampler (``programs`` programs, each reporting its own)."""
    with _lock:
        _active[:] = [Reporter(warmup, draws, programs, stream)]
    try:
        yield
    finally:
        with _lock:
            _active.clear()
