"""Retries of 429 and 503 answers: honour Retry-After (seconds or HTTP date), back off without it, stay bounded,
and raise the last answer as a ProblemError."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest
from cadml_client import CadmlClient, ProblemError, RetryPolicy, parse_retry_after

PROBLEM = {"type": "https://cadml.dev/problems/throttled", "title": "Too many requests", "status": 429,
           "code": "throttled", "stage": "throttling", "message": "slow down", "context": {"wait_seconds": 2},
           "timestamp": "2026-12-06T10:00:00Z", "request_id": "req-1"}


def scripted(*answers: httpx.Response):
    """A transport answering the given responses in turn, recording the requests."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0)

    return httpx.MockTransport(handle), seen


def problem(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/problem+json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return httpx.Response(status, json={**PROBLEM, "status": status}, headers=headers)


def client(transport, sleeps: list[float], **kwargs) -> CadmlClient:
    return CadmlClient("http://cadml.test", api_key="k.s", transport=transport, sleep=sleeps.append, **kwargs)


def test_429_waits_retry_after_then_succeeds():
    transport, seen = scripted(problem(429, "2"), problem(429, "1"), httpx.Response(200, json={"status": "ok"}))
    sleeps: list[float] = []
    assert client(transport, sleeps).health() == {"status": "ok"}
    assert sleeps == [2.0, 1.0] and len(seen) == 3


def test_503_with_an_http_date_retry_after():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    transport, seen = scripted(problem(503, when), httpx.Response(200, json={"status": "ok"}))
    sleeps: list[float] = []
    client(transport, sleeps).health()
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30


def test_without_retry_after_the_wait_doubles():
    transport, _ = scripted(problem(503), problem(503), problem(503), httpx.Response(200, json={}))
    sleeps: list[float] = []
    client(transport, sleeps, retry=RetryPolicy(attempts=4, backoff=1.0)).health()
    assert [round(s) for s in sleeps] == [1, 2, 4]
    assert all(base <= s <= base * 1.1 for s, base in zip(sleeps, (1, 2, 4), strict=True))


def test_retries_are_bounded_and_the_last_answer_is_raised():
    transport, seen = scripted(*(problem(429, "1") for _ in range(3)))
    sleeps: list[float] = []
    with pytest.raises(ProblemError) as raised:
        client(transport, sleeps, retry=RetryPolicy(attempts=3)).health()
    assert len(seen) == 3 and sleeps == [1.0, 1.0]
    error = raised.value
    assert (error.status, error.code, error.stage, error.message) == (429, "throttled", "throttling", "slow down")
    assert error.context == {"wait_seconds": 2} and error.timestamp == "2026-12-06T10:00:00Z"
    assert error.request_id == "req-1" and error.retry_after == 1.0 and error.retryable


def test_a_retry_after_beyond_the_bound_is_raised_at_once():
    transport, seen = scripted(problem(503, "3600"))
    sleeps: list[float] = []
    with pytest.raises(ProblemError) as raised:
        client(transport, sleeps, retry=RetryPolicy(max_wait=60)).health()
    assert sleeps == [] and len(seen) == 1 and raised.value.retry_after == 3600.0


def test_other_errors_are_not_retried():
    transport, seen = scripted(problem(409, "5"))
    sleeps: list[float] = []
    with pytest.raises(ProblemError):
        client(transport, sleeps).health()
    assert sleeps == [] and len(seen) == 1


def test_a_retried_upload_sends_the_same_bytes(tmp_path):
    part = tmp_path / "part.stl"
    part.write_bytes(b"solid x\nendsolid x\n")
    transport, seen = scripted(problem(429, "0"), httpx.Response(201, json={"id": 1}))
    with part.open("rb") as handle:
        client(transport, []).analyze(handle)
    assert len(seen) == 2 and all(b"solid x\nendsolid x\n" in request.content for request in seen)


def test_a_non_problem_error_body_still_raises_with_the_status():
    transport, _ = scripted(httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ProblemError) as raised:
        client(transport, []).health()
    assert raised.value.status == 502 and raised.value.code == "http_502" and "bad gateway" in raised.value.message


@pytest.mark.parametrize("value, seconds", [("7", 7.0), (None, None), ("soon", None),
                                            ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)])
def test_parse_retry_after(value, seconds):
    assert parse_retry_after(value) == seconds


@pytest.fixture
def tight_rates(monkeypatch):
    from django.core.cache import cache

    from cadml_site.api.throttling import ApiKeyScopedThrottle

    cache.clear()
    monkeypatch.setattr(ApiKeyScopedThrottle, "THROTTLE_RATES", {"default": "2/min", "sensitive": "1/min",
                                                                 "upload": "2/min"})
    yield
    cache.clear()


def test_the_real_throttle_is_retried_with_its_retry_after(make_client, api_key_secret, tight_rates):
    """Against the app: the third call in a minute is throttled; the client waits what Retry-After says (here
    the clock does not move, so the budget stays spent) and, after its bounded tries, raises the 429."""
    sleeps: list[float] = []
    api = make_client(api_key=api_key_secret, sleep=sleeps.append, retry=RetryPolicy(attempts=3))
    api.model_status()
    api.model_status()
    with pytest.raises(ProblemError) as raised:
        api.model_status()
    assert len(sleeps) == 2 and all(1 <= s <= 60 for s in sleeps)
    assert raised.value.status == 429 and raised.value.code == "throttled" and raised.value.retry_after == sleeps[-1]
