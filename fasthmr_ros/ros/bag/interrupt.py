"""Signals stop a bag run between records, so the writer's `finally: close()` still writes
metadata.yaml and the output holds only whole frames.

Without this SIGTERM (systemd, docker stop, Ray shutdown) and SIGHUP (a dropped ssh session) end
the process at once: the storage file is left without metadata and no rosbag2 reader opens it.
The handler only records the signal; the processing loop calls `raise_if_interrupted()` before
each input record. Raising inside the handler itself could cut a record in half in the storage
writer's buffer and corrupt the last chunk. Used by `fasthmr bag`, and so by `fasthmr demo`,
which runs it; no fleet front end exists yet.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

# The first signal received inside `signals_raise()` (signals are process-wide, so is this).
_received: list[int] = []


class RunInterruptedError(BaseException):
    """Raised by `raise_if_interrupted()` after the first of SIGNALS; carries how far the output got.
    A BaseException, like KeyboardInterrupt, so `except Exception` handlers do not swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.frames_done = 0
        self.frames_total = 0

    @property
    def exit_code(self) -> int:
        """128 + signal number, as shells report a process ended by that signal."""
        return 128 + self.signum


def raise_if_interrupted() -> None:
    """Called by a writing loop at a point where everything written so far is whole."""
    if _received:
        raise RunInterruptedError(_received[0])


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block the first signal makes the next `raise_if_interrupted()` raise; later
    signals are ignored, so a second Ctrl-C or SIGTERM cannot cut the finalizing (`close()`)."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if not _received:
            _received.append(signum)

    _received.clear()
    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        _received.clear()
