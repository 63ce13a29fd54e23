"""Work a request hands off to start once its response has been sent: ``after_response(job, label=...)``.

A WSGI server closes the response after writing it to the client (gunicorn's sync worker writes the headers and the
body, then closes), and Django sends ``request_finished`` then. The jobs a request's thread deferred run at that
moment, in that thread, in the order given. So a job that hands work to a background thread (the thumbnail runner:
a render, or a task sent to the broker) starts it only when the client has its answer: started at the commit, that
thread took the GIL from the request while its response was still being serialised and written.

Outside a request (a Celery task, a command, code called without the test client) a job runs at once. A job should
be quick (a hand-off, not the work): the worker takes its next request after the jobs. A job that raises is logged
and the next one runs; jobs left by a request whose end was never signalled run when the thread's next request
starts. ``install()`` connects the two signals (``cadml_site.api``'s ``ApiConfig.ready``); it is idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.core.signals import request_finished, request_started

logger = logging.getLogger("cadml.after_response")

_requests = threading.local()  # .jobs: the jobs the request on this thread deferred; None outside a request


def after_response(job: Callable[[], None], *, label: str) -> None:
    """Run ``job`` once the response of the request on this thread has been sent; at once outside a request."""
    jobs = getattr(_requests, "jobs", None)
    if jobs is None:
        _run(label, job)
    else:
        jobs.append((label, job))


def deferred_jobs() -> int:
    """The jobs the request on this thread has deferred so far (0 outside a request)."""
    return len(getattr(_requests, "jobs", None) or ())


def forget_deferred() -> int:
    """Drop what the request on this thread deferred and leave the request (the test reset: the test client sends
    ``request_finished`` for a streamed response only once its content is read, so a test that does not read it
    would leave its thread inside a request, deferring whatever later code on it hands off). The jobs dropped."""
    return len(_leave_request())


def _leave_request() -> list[tuple[str, Callable[[], None]]]:
    """What the request on this thread deferred (none outside a request); the thread is outside a request after."""
    jobs, _requests.jobs = getattr(_requests, "jobs", None), None
    return jobs or []


def _run(label: str, job: Callable[[], None]) -> None:
    try:
        job()
    except Exception:
        logger.exception("after-response job %s failed", label)


def _run_deferred() -> None:
    for label, job in _leave_request():
        _run(label, job)


def _request_started(**_kwargs) -> None:
    _run_deferred()  # left by a request whose end was not signalled
    _requests.jobs = []


def _request_finished(**_kwargs) -> None:
    _run_deferred()


def install() -> None:
    request_started.connect(_request_started, dispatch_uid="cadml_after_response_started")
    request_finished.connect(_request_finished, dispatch_uid="cadml_after_response_finished")
