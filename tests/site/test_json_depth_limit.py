"""Deeply nested JSON is a 400 naming the depth limit, never a RecursionError (issue 18, finding 7)."""

from __future__ import annotations

import logging

import pytest

from cadml_site.api.json_parser import json_depth

pytestmark = pytest.mark.django_db


def _nested_meta(levels: int) -> str:
    return '{"feature_version": "v4", "key": "deep", "values": [' + ", ".join(["1.0"] * 24) + '], "meta": ' + \
        '{"a": ' * levels + "1" + "}" * levels + "}"


def test_depth_scan_ignores_brackets_inside_strings():
    assert json_depth('{"a": "[[[[{{{{", "b": [1, [2, {"c": "\\"]]]"}]]}') == 4
    assert json_depth("1") == 0 and json_depth('"[[["') == 0
    assert json_depth("[" * 5000 + "]" * 5000) == 5000


@pytest.mark.parametrize("url", ["/api/v1/vectors/", "/api/v1/vectors/similarity/", "/api/v1/model/predict/"])
def test_a_body_nested_1000_levels_is_400_validation_failed_naming_the_limit(key_client, settings, caplog, url):
    caplog.set_level(logging.DEBUG)
    response = key_client.generic("POST", url, _nested_meta(1000), content_type="application/json")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["context"]["max_depth"] == settings.CADML_JSON_MAX_DEPTH
    assert str(settings.CADML_JSON_MAX_DEPTH) in body["message"] and "CADML_JSON_MAX_DEPTH" in body["message"]
    assert "RecursionError" not in caplog.text and "Traceback" not in caplog.text
    assert not any(record.exc_info for record in caplog.records)


def test_the_limit_is_a_setting_and_bodies_within_it_are_accepted(key_client, settings):
    settings.CADML_JSON_MAX_DEPTH = 8
    ok = key_client.generic("POST", "/api/v1/vectors/", _nested_meta(7), content_type="application/json")
    assert ok.status_code == 201, ok.content
    too_deep = key_client.generic("POST", "/api/v1/vectors/", _nested_meta(8), content_type="application/json")
    assert too_deep.status_code == 400 and too_deep.json()["context"] == {"max_depth": 8, "depth": 9}


def test_malformed_json_is_still_a_malformed_request(key_client):
    response = key_client.generic("POST", "/api/v1/vectors/", '{"key": ', content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    response = key_client.generic("POST", "/api/v1/vectors/", b'{"key": "\xff"}', content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
