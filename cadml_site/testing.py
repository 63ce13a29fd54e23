"""pytest plugin (``-p cadml_site.testing`` in pytest.ini), imported before Django settings load.

Tests run with a throw-away secret key and a private var/ directory, never the developer's.
"""

from __future__ import annotations

import os
import secrets
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "test-" + secrets.token_urlsafe(48))
os.environ.setdefault("CADML_VAR_DIR", tempfile.mkdtemp(prefix="cadml-test-var-"))
os.makedirs(os.path.join(os.environ["CADML_VAR_DIR"], "static"), exist_ok=True)
os.environ.setdefault("OMP_NUM_THREADS", "1")
# A test's transaction is not visible to another thread: thumbnails render before the response (the background
# mode is tested with committed data, tests/features/test_thumbnail_background_renders.py).
os.environ.setdefault("CADML_EMBEDDED_THUMBNAILS", "inline")
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
