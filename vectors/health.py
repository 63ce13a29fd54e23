"""The vectors section of the health endpoint: the served feature version and, per version, the index status."""

from __future__ import annotations


def vectors_health() -> dict:
    from vectors.selectors import index_status, served_version_status

    versions = index_status()
    for version in versions:
        for field in ("degraded_since", "drill_until", "last_attempt_at"):
            if version[field] is not None:
                version[field] = version[field].isoformat()
        version["snapshot"]["at"] = version["snapshot"]["at"].isoformat() if version["snapshot"]["at"] else None
        for event in version["events"]:
            event["at"] = event["at"].isoformat()
    status = "degraded" if any(v["degraded"] for v in versions) else "ok"
    served = served_version_status()
    served["since"] = served["since"].isoformat() if served["since"] else None
    return {"status": status, "served_version": served, "versions": {v.pop("feature_version"): v for v in versions}}
