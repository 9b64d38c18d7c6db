"""The kernel's threads and signals, as the warden sees them.

A student's function may leave something running after it returns: an alarm (``signal.alarm``,
``setitimer``) or a signal handler that fires later inside the grader, or a thread that patches
the grader after a check restored it. :func:`make_process_guard` builds the two closures the
warden uses against that: ``reset_signals()`` puts back the handlers and timers of the moment
the warden was installed, and ``foreign_threads()`` lists threads that are neither exempt (alive
when grading mode began) nor the kernel's own library threads.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

# Threads of these packages (pyzmq's garbage collector, ipykernel's heartbeat and control) are
# the kernel's own, as long as they run only installed library code.
LIBRARY_MODULES = ("zmq.", "ipykernel.", "jupyter_client.", "tornado.", "comm.")


def library_prefixes() -> tuple[str, ...]:
    """The folders of installed Python code (and frozen modules), as ``co_filename`` prefixes."""
    return (
        *sorted({os.path.join(p, "") for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}),
        "<frozen ",
    )


def make_process_guard(state: dict) -> tuple[Any, Any]:
    """Build ``(reset_signals, foreign_threads)``.

    Parameters
    ----------
    state : dict
        The warden's state; ``state["exempt"]`` is the frozenset of thread idents that
        ``foreign_threads`` does not report.

    Returns
    -------
    reset_signals : callable
        ``reset_signals() -> None``; in the main thread, puts back every signal handler and
        cancels every interval timer set since the warden was installed.
    foreign_threads : callable
        ``foreign_threads() -> list[int]``: idents of the threads that notebook code may have
        started and that are still running.
    """
    # Everything the closures below use is bound here: they read no global variable.
    get_ident = threading.get_ident
    current_frames = sys._current_frames
    main_ident = threading.main_thread().ident
    active_threads = threading._active  # the dict itself: threading mutates it in place
    library_modules = LIBRARY_MODULES
    prefixes = library_prefixes()
    getattr_, vars_, type_, sorted_ = getattr, vars, type, sorted
    value_error, os_error, type_error = ValueError, OSError, TypeError
    try:
        valid_signals = tuple(signal.valid_signals())
        saved_handlers = tuple((s, signal.getsignal(s)) for s in valid_signals)
    except Exception:  # pragma: no cover
        saved_handlers = ()
    signal_signal, getsignal = signal.signal, signal.getsignal
    setitimer, getitimer = getattr(signal, "setitimer", None), getattr(signal, "getitimer", None)
    timers = tuple(
        getattr(signal, n)
        for n in ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")
        if hasattr(signal, n)
    )

    def reset_signals():
        if get_ident() != main_ident:
            return
        for s, handler in saved_handlers:
            try:
                if getsignal(s) is not handler:
                    signal_signal(s, handler)
            except (value_error, os_error, type_error):
                continue
        if setitimer is not None:
            for t in timers:
                try:
                    if getitimer(t) != (0.0, 0.0):
                        setitimer(t, 0)
                except (os_error, value_error):
                    continue

    def library_thread(ident, frame):
        """A thread of the kernel's own libraries (pyzmq's garbage collector, ipykernel),
        running only library code, that no notebook code parametrised."""
        thread = active_threads.get(ident)
        cls = type_(thread)
        if thread is None or not cls.__module__.startswith(library_modules):
            return False
        run = getattr_(cls, "run", None)
        if "run" in vars_(thread) or not getattr_(run, "__module__", "").startswith(
            library_modules
        ):
            return False
        if getattr_(thread, "_target", None) is not None:
            return False
        while frame is not None:
            if not frame.f_code.co_filename.startswith(prefixes):
                return False
            frame = frame.f_back
        return True

    def foreign_threads():
        frames = current_frames()  # only called inside the protocol (busy)
        return sorted_(
            ident
            for ident, frame in frames.items()
            if ident not in state["exempt"]
            and ident != main_ident
            and not library_thread(ident, frame)
        )

    return reset_signals, foreign_threads
