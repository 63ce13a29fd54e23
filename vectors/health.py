"""The vectors section of the health endpoint: per feature version, the index status."""

from __future__ import annotations


def vectors_health() -> dict:
    from vectors.selectors import index_status

    versions = index_status()
    for version in versions:
        for field in ("degraded_since", "drill_until", "last_attempt_at"):
            if version[field] is not None:
                version[field] = version[field].isoformat()
        version["snapshot"]["at"] = version["snapshot"]["at"].isoformat() if version["snapshot"]["at"] else None
        for event in version["events"]:
            event["at"] = event["at"].isoformat()
    status = "degraded" if any(v["degraded"] for v in versions) else "ok"
    return {"status": status, "versions": {v.pop("feature_version"): v for v in versions}}
