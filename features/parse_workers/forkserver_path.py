"""Start multiprocessing's forkserver so that it preloads the parse worker of this checkout, whatever the current
directory (Django-free).

Python 3.11 starts the forkserver as `python -c ...`, so its `sys.path` begins with the current directory, and it
does not apply the parent's `sys.path` before preloading (`multiprocessing.forkserver.main` ignores it). A process
started outside the project folder then preloads nothing: the import fails silently, every worker imports OCP, ezdxf
and trimesh itself when it starts (seconds per start and replacement, no memory shared with the forkserver). Worse, a
folder holding another checkout makes the forkserver preload that checkout's worker, which every worker then runs.

When the current directory does not hold this very package, the forkserver is started with `PYTHONSAFEPATH=1` (no
current directory on its path) and this checkout's root first on `PYTHONPATH`; the two variables are set only while
it starts (at a pool's start, before requests are served) and restored at once.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_WORKER_FILE = Path(__file__).resolve().with_name("worker.py")


def preload_finds_this_checkout(directory: Path | None = None) -> bool:
    """Whether a forkserver started in `directory` (default: the current one) imports this checkout's worker."""
    candidate = (directory or Path.cwd()) / "features" / "parse_workers" / "worker.py"
    try:
        return os.path.samefile(candidate, _WORKER_FILE)
    except OSError:
        return False


@contextlib.contextmanager
def _environment(**values: str):
    former = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in former.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def forkserver_start() -> None:
    """Start this process's forkserver unless it runs already (then nothing changes), importing from this checkout."""
    from multiprocessing import forkserver

    if preload_finds_this_checkout():
        forkserver.ensure_running()
        return
    path = [str(PROJECT_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    with _environment(PYTHONSAFEPATH="1", PYTHONPATH=os.pathsep.join(path)):
        forkserver.ensure_running()
