"""One parse pool per host: a small local service that owns one `features.parse_workers.pool.ParsePool` and answers
every gunicorn and Celery worker on the host over a Unix socket (`server.py`), its client, a `ParseRunner`
(`client.py`), the length-prefixed frames both speak (`protocol.py`) and the supervisor a gunicorn master or a
Celery worker runs to keep one service answering (`supervisor.py`). Django-free: the configuration arrives as
arguments (`python -m features.parse_service --help`)."""
