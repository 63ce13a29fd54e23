"""The bottom layer: settings, plumbing and the error vocabulary.

Importing the package loads nothing else, so the Django-free cores (parsers, the scanner, the index) can raise
``cadml_site.errors`` without pulling in Celery or Django (parse worker processes stay small). The Celery app is
loaded by the API app's ``ready()`` in every Django process, and ``celery -A cadml_site`` finds it in
``cadml_site.celery``.
"""


def __getattr__(name: str):
    if name == "celery_app":
        from cadml_site.celery import app

        return app
    raise AttributeError(f"module 'cadml_site' has no attribute {name!r}")
