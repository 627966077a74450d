# Relais: `make run` serves the app on 127.0.0.1, `make test` runs the whole suite.
# Both create .venv and install the pinned requirements themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# The SFTP inbox (flask sftp serve), started beside the web server by `make run`.
SFTP_PORT ?= 2222
export SFTP_PORT
# Test processes (pytest-xdist): each has its own PostgreSQL and Redis databases.
TEST_WORKERS ?= 2
export FLASK_APP := wsgi.py

BENCH_SELLING_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/relais_bench_selling

.PHONY: install install-dev translations run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

translations: install
	@if compgen -G "app/translations/*/LC_MESSAGES/messages.po" > /dev/null; then \
		$(BIN)/pybabel compile -d app/translations 2>&1 | grep -v "^compiling" || true; fi

# `make run` is the development server: signature codes go to its log too (and SMS, with no
# gateway named, to the log only); an operator's gunicorn leaves them out.
run: export ESIGN_LOG_CODES ?= 1
run: install translations
	$(BIN)/flask db upgrade
	$(BIN)/flask ensure-demo
	$(BIN)/flask sftp serve & sftp_pid=$$!; \
	trap 'kill $$sftp_pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --threads 4 --access-logfile - wsgi:app

test: install-dev translations
	$(BIN)/ruff check $(wildcard app importers portal api tests bench) wsgi.py
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: install-dev
	$(BIN)/ruff check $(wildcard app importers portal api tests bench) wsgi.py

bench: install-dev translations
	$(BIN)/python -m bench --suite all
	$(BIN)/python -m bench.collections --postgresql $(BENCH_SELLING_DATABASE_URL)
	$(BIN)/python -m bench.sealing
	$(BIN)/python -m bench.subscribe --postgresql $(BENCH_SELLING_DATABASE_URL)

clean:
	rm -rf $(VENV) .pytest_cache
