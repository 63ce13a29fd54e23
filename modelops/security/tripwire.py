"""Audit-hook tripwire (third line of defence).

One process-wide ``sys.addaudithook`` hook is installed once; it does nothing unless the *current thread*
is inside :func:`armed`. While armed it refuses process spawning, exec/compile, code/function creation,
nested unpickling, network, file opens and deletions/renames, ctypes, and any real import (the loader
pre-imports everything the allow-list names). A refused event raises ``TripwireTripped`` inside the
offending operation *and* is remembered, so the load is refused even if something swallowed the error.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

_REFUSED_PREFIXES: tuple[str, ...] = (
    "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "os.kill", "os.killpg",
    "os.putenv", "os.unsetenv", "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.symlink", "os.link",
    "os.truncate", "os.chmod", "os.chown", "os.chdir", "os.chflags", "os.lchmod", "os.lchown", "os.utime",
    "os.startfile", "os.listdir", "os.scandir", "os.walk", "os.setxattr", "os.removexattr", "os.add_dll_directory",
    "subprocess.", "socket.", "code.__new__", "function.__new__", "marshal.", "pickle.find_class", "ctypes.",
    "builtins.input", "webbrowser.", "urllib.", "http.client.", "ftplib.", "smtplib.", "imaplib.", "poplib.",
    "nntplib.", "telnetlib.", "shutil.", "tempfile.", "sqlite3.", "mmap.", "cpython.run_", "glob.",
    "sys.addaudithook", "sys.settrace", "sys.setprofile", "sys.remote_exec", "gc.get_referrers",
    "gc.get_referents", "gc.get_objects", "_posixsubprocess.",
)
_REFUSED_EXACT = frozenset({"exec", "compile", "open", "import", "os.open", "io.open_code", "syslog.openlog"})
# The first predict in a fresh process may lazily import parts of scipy/sklearn and look at the machine
# (joblib lists /sys directories and reads files; threadpoolctl takes handles on the BLAS/OpenMP libraries
# already mapped in the process): allowed in the canary, read-only. Writes, processes, network stay refused.
_RELAXED_FOR_PREDICT = frozenset({"import", "io.open_code", "compile", "exec", "marshal.loads", "os.listdir",
                                  "os.scandir", "ctypes.dlopen", "ctypes.dlsym"})
_WRITE_FLAGS = (getattr(os, "O_WRONLY", 1) | getattr(os, "O_RDWR", 2) | getattr(os, "O_CREAT", 0o100)
                | getattr(os, "O_APPEND", 0o2000) | getattr(os, "O_TRUNC", 0o1000))


def _read_only_open(event: str, args) -> bool:
    if event != "open" or len(args) < 3:
        return False
    mode, flags = args[1], args[2]
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return False
    return isinstance(flags, int) and not flags & _WRITE_FLAGS


class TripwireTripped(RuntimeError):
    """Raised from the audit hook when an armed thread attempts a refused operation."""


class _State(threading.local):
    def __init__(self):
        self.depth = 0
        self.relaxed = False
        self.events: list[str] = []


_state = _State()
_install_lock = threading.Lock()
_installed = False


def _hook(event: str, args) -> None:
    state = _state
    if not state.depth:
        return
    if event in _REFUSED_EXACT or event.startswith(_REFUSED_PREFIXES):
        if state.relaxed and (event in _RELAXED_FOR_PREDICT or _read_only_open(event, args)):
            return
        detail = event
        if event in ("import", "open", "os.system", "subprocess.Popen", "exec", "compile") and args:
            detail = f"{event}:{str(args[0])[:120]}"
        if len(state.events) < 50:
            state.events.append(detail)
        raise TripwireTripped(f"refused during model load: {detail}")


def install() -> None:
    """Install the process-wide hook once (audit hooks cannot be removed)."""
    global _installed
    if _installed:
        return
    with _install_lock:
        if not _installed:
            sys.addaudithook(_hook)
            _installed = True


@contextmanager
def armed(*, relaxed: bool = False):
    """Arm the tripwire for the current thread; yields the list of refused events (filled on exit)."""
    install()
    state = _state
    outer_events, outer_relaxed = state.events, state.relaxed
    events: list[str] = []
    state.events = events
    state.relaxed = relaxed
    state.depth += 1
    try:
        yield events
    finally:
        state.depth -= 1
        state.events, state.relaxed = outer_events, outer_relaxed
        if outer_events is not events and state.depth:
            outer_events.extend(events)


def is_armed() -> bool:
    return bool(_state.depth)
