"""Signals become an exception, so a bag writer's `finally: close()` still writes metadata.yaml.

Without this SIGTERM (systemd, docker stop, Ray shutdown) and SIGHUP (a dropped ssh session) end
the process at once: the storage file is left without metadata and no rosbag2 reader opens it.
Shared by every front end that writes a bag (bag, demo, fleet).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class RunInterruptedError(BaseException):
    """Raised once in the main thread by the first of SIGNALS; carries how far the output got.
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


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block the first signal raises RunInterruptedError; later ones are ignored, so a second
    Ctrl-C or SIGTERM cannot cut the finalizing (`close()`) that the first one started."""
    fired: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if not fired:
            fired.append(signum)
            raise RunInterruptedError(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
