"""Model uploads are refused while they stream in, like analyze's (issue 18, finding 10).

Before the fix a body over CADML_MODEL_MAX_BYTES was received completely (parsed into a temporary file) before the
413. The request body here is a counting stream: the test checks how much of it the server read.
"""

from __future__ import annotations

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, FakePayload, encode_multipart

from modelops.models import ModelVersion

pytestmark = pytest.mark.django_db

URL = "/api/v1/model/versions/"


class CountingPayload(FakePayload):
    """The WSGI input stream, counting the bytes the server reads from it."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.consumed = 0

    def read(self, size=-1, /):
        data = super().read(size)
        self.consumed += len(data)
        return data

    def readline(self, size=-1, /):
        data = super().readline(size)
        self.consumed += len(data)
        return data


def _post_counting(client, body: bytes):
    payload = CountingPayload(body)
    response = client.request(REQUEST_METHOD="POST", PATH_INFO=URL, CONTENT_TYPE=MULTIPART_CONTENT,
                              CONTENT_LENGTH=str(len(body)), **{"wsgi.input": payload})
    return response, payload


def _multipart(file_bytes: bytes) -> bytes:
    from io import BytesIO

    upload = BytesIO(file_bytes)
    upload.name = "model.pkl"
    return encode_multipart(BOUNDARY, {"file": upload, "label": "big", "feature_version": "v4"})


def test_a_body_over_the_limit_is_413_before_any_of_it_is_read(ops_client, model_dir, settings):
    settings.CADML_MODEL_MAX_BYTES = 256 * 1024
    body = _multipart(b"\x80\x04" + b"\x00" * (3 * 1024 * 1024))  # 3 MB against a 256 KB limit
    response, payload = _post_counting(ops_client, body)
    assert response.status_code == 413, response.content
    assert payload.consumed == 0, f"read {payload.consumed} of {len(body)} bytes before refusing"
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["stage"]) == ("size_exceeded", "intake")
    assert problem["context"] == {"size": len(body), "limit": 256 * 1024}
    assert not ModelVersion.objects.exists()


def test_a_file_over_the_limit_within_the_framing_allowance_is_stopped_while_streaming(ops_client, model_dir,
                                                                                     settings):
    """The declared length passes the first check; the handler counts the file's bytes as they arrive."""
    settings.CADML_MODEL_MAX_BYTES = 256 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = _multipart(b"\x80\x04" + b"\x00" * (256 * 1024 + 40 * 1024))
    response, payload = _post_counting(ops_client, body)
    assert response.status_code == 413 and response.json()["code"] == "size_exceeded"
    assert not ModelVersion.objects.exists()


def test_a_key_without_admin_token_is_refused_without_reading_the_body(key_client, model_dir, settings):
    settings.CADML_MODEL_MAX_BYTES = 256 * 1024
    body = _multipart(b"\x80\x04" + b"\x00" * (100 * 1024))
    response, payload = _post_counting(key_client, body)
    assert response.status_code == 403
    assert payload.consumed == 0
