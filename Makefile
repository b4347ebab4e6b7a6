# Two commands: `make run` serves development.ini, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The throw-away PostgreSQL databases of the test suite are created through this server.
TRACKING_TEST_POSTGRESQL ?= postgresql://postgres@127.0.0.1:5432/postgres
export TRACKING_TEST_POSTGRESQL

.PHONY: run install test test-sqlite test-postgresql bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip "setuptools<81" wheel

$(VENV)/.installed: $(VENV)/bin/activate setup.py
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-testing: $(VENV)/.installed setup.py
	$(PIP) install --quiet -e ".[testing]"
	touch $@

install: $(VENV)/.installed

var:
	mkdir -p var

run: $(VENV)/.installed | var
	$(VENV)/bin/alembic -c development.ini upgrade head
	$(VENV)/bin/pserve development.ini

test: $(VENV)/.installed-testing
	$(PY) -m pytest --cov=tracking --cov-report=term-missing:skip-covered --cov-fail-under=90
	@if $(PY) tests/postgresql.py; then \
		$(MAKE) --no-print-directory test-postgresql; \
	elif [ -n "$$REQUIRE_POSTGRESQL" ]; then \
		echo "PostgreSQL at $$TRACKING_TEST_POSTGRESQL is not reachable, and REQUIRE_POSTGRESQL is set"; exit 1; \
	else \
		echo "SKIPPED the PostgreSQL leg: no server at $$TRACKING_TEST_POSTGRESQL"; \
	fi

test-sqlite: $(VENV)/.installed-testing
	$(PY) -m pytest

test-postgresql: $(VENV)/.installed-testing
	@echo "== the same suite on PostgreSQL =="
	$(PY) -m pytest --database=postgresql

bench: $(VENV)/.installed-testing
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .coverage
