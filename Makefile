# Two commands: `make run` and `make test`. Everything else here serves them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
VAR := var
STAMP := $(VENV)/.installed
SECRET := $(VAR)/secret_key
export OMP_NUM_THREADS ?= 1
export DJANGO_SETTINGS_MODULE := cadml_site.settings
DJANGO_ENV = DJANGO_SECRET_KEY="$${DJANGO_SECRET_KEY:-$$(cat $(SECRET))}"
MANAGE = $(DJANGO_ENV) $(BIN)/python manage.py
# one parse pool per host for gunicorn and Celery (docs/features.md); set it empty for one pool per process
PARSE_SERVICE = CADML_PARSE_SERVICE_SOCKET="$${CADML_PARSE_SERVICE_SOCKET-parse-service.sock}"
DEMO_COUNT ?= 40

.PHONY: run test rules browser install migrate credentials demo static serve worker beat check clean

## run: set up everything (virtualenv, dependencies, database, credentials, demo data) and serve on 127.0.0.1:8000
run: install $(SECRET) migrate demo static credentials serve

## test: set up the virtualenv and Prometheus' tools, check the alert rules, run the whole suite
## (SQLite; Postgres when DATABASE_URL is set)
test: install rules browser
	$(BIN)/pytest

## browser: Debian's chromium and chromium-driver for the browser tests (installed when missing)
browser:
	bash .ci/browser_deps.sh

## rules: promtool check + unit tests of the alert and recording rules (installs Debian's prometheus if missing;
## the integration tests run a real Prometheus server from it)
rules:
	bash .ci/prometheus_checks.sh

install: $(STAMP)

$(BIN)/python:
	@echo "==> Creating the virtualenv $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)

# pip's own output is long; one line per package it fetches shows progress (the first install takes minutes).
$(STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	@echo "==> Installing the pinned requirements into $(VENV) (first time: a few minutes; one line per package)"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@set -o pipefail; $(BIN)/python -m pip install --progress-bar off -r requirements-dev.txt \
	  | awk '/^Collecting / { print "    " $$2; fflush() } /^Successfully installed/ { print "    installed." }'
	@touch $(STAMP)

$(SECRET):
	mkdir -p $(VAR)
	umask 077 && $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > $(SECRET)

migrate: install $(SECRET)
	@echo "==> Migrating the database ($${DATABASE_URL:-SQLite in $(VAR)/})"
	$(MANAGE) migrate --noinput
	$(MANAGE) createcachetable

credentials: migrate
	@echo "==> Credentials (a superuser, an API key and an admin token, created once)"
	@$(MANAGE) bootstrap_credentials

## demo: once, generate labelled demo parts, ingest them, train and activate a classifier on them, all in the served
## feature version (v5 on a fresh installation; an existing one keeps the version its vectors have)
demo: migrate
	@if [ -f $(VAR)/demo.done ]; then echo "==> Demo data already loaded (delete $(VAR)/demo.done to load it again)."; else \
	  echo "==> Demo data: generating $(DEMO_COUNT) labelled parts, ingesting them, training a classifier" && \
	  $(MANAGE) make_demo_parts --out $(VAR)/demo-parts --count $(DEMO_COUNT) && \
	  $(MANAGE) ingest $(VAR)/demo-parts && \
	  $(MANAGE) train_classifier --activate --actor "make run" && \
	  touch $(VAR)/demo.done; fi

static: install $(SECRET)
	@echo "==> Collecting static files into $(VAR)/static"
	@$(MANAGE) collectstatic --noinput --verbosity 0

serve: install $(SECRET)
	rm -rf $(VAR)/prometheus && mkdir -p $(VAR)/prometheus
	@url="http://$${GUNICORN_BIND:-127.0.0.1:8000}"; \
	echo "==> Serving on $$url/ with gunicorn (stop with Ctrl-C). Where to click:"; \
	echo "    $$url/admin/      ops dashboard and console: ADMIN_USERNAME / ADMIN_PASSWORD in $(VAR)/credentials"; \
	echo "    $$url/api/docs/   API documentation (Swagger UI)"; \
	echo "    $$url/api/v1/health/   health, no credentials needed"; \
	echo "    API calls: source <(sed 's/^/export /' $(VAR)/credentials)  then  curl -H \"X-API-Key: \$$API_KEY\" ..."; \
	echo "    Next steps: README.md, section \"What to do next\""
	$(DJANGO_ENV) $(PARSE_SERVICE) PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/$(VAR)/prometheus $(BIN)/gunicorn -c gunicorn.conf.py

## worker / beat: Celery processes, for when CELERY_BROKER_URL names a real broker. The worker shares the web server's
## metrics folder, so /metrics (and the cache hit-ratio samples) count what Celery did too.
worker: install $(SECRET)
	mkdir -p $(VAR)/prometheus
	$(DJANGO_ENV) $(PARSE_SERVICE) PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/$(VAR)/prometheus $(BIN)/celery -A cadml_site worker --loglevel INFO --concurrency 2

beat: install $(SECRET)
	$(DJANGO_ENV) $(BIN)/celery -A cadml_site beat --loglevel INFO --schedule $(VAR)/celerybeat-schedule

check: install $(SECRET)
	$(MANAGE) check

clean:
	rm -rf $(VENV) .pytest_cache
