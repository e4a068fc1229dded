"""What every worker process started with "spawn" does (the validation worker, the dashboards'
page writers)."""

from __future__ import annotations


def leave_at_once_at_exit() -> None:
    """Called as a spawned worker starts: at its end it leaves at once. Everything it does is
    handed back or written and closed by then, and its interpreter would otherwise free its
    objects one by one (a quarter to half a second of a national run, which the process that
    started it waits for). Registered as it starts, this handler runs first at exit, so the
    interpreter's other exit work is skipped."""
    import atexit
    import os

    atexit.register(os._exit, 0)
