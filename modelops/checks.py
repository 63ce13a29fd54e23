"""Start-up checks of the modelops configuration (``manage.py check`` and every server start)."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def modelops_allowlist_check(app_configs, **kwargs):
    """The generated allow-list must load, and every allowed name must resolve with the installed libraries."""
    from modelops.security.allowlist import default_allowlist
    from modelops.security.loader import resolve_allowed_objects

    try:
        allowlist = default_allowlist()
    except (OSError, ValueError, KeyError) as exc:
        return [Error(f"the model allow-list cannot be read: {exc}", id="modelops.E001",
                      hint="Regenerate it: python -m modelops.security.allowlist_builder")]
    objects = resolve_allowed_objects(allowlist)
    missing = sorted(set(allowlist.globals) - set(objects))
    if missing:
        return [Error(f"{len(missing)} allow-listed globals do not resolve: {', '.join(missing[:5])}",
                      id="modelops.E002",
                      hint="The installed scikit-learn/numpy differ from the pinned ones the allow-list was "
                           "generated with; regenerate it: python -m modelops.security.allowlist_builder")]
    return []


@register()
def modelops_model_dir_check(app_configs, **kwargs):
    path = settings.CADML_MODEL_DIR
    if path.exists() and not (path.is_dir() and os.access(path, os.R_OK | os.W_OK | os.X_OK)):
        return [Warning(f"CADML_MODEL_DIR {path} is not a readable and writable directory", id="modelops.W001")]
    return []
