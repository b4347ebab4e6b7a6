# Two commands: `make run` serves development.ini, `make test` runs the linters, then the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The throw-away PostgreSQL databases of the test suite are created through this server.
TRACKING_TEST_POSTGRESQL ?= postgresql://postgres@127.0.0.1:5432/postgres
export TRACKING_TEST_POSTGRESQL

.PHONY: run install lint test test-sqlite test-postgresql bench soak clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip "setuptools>=78.1.1,<80.9" wheel

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

# ruff (ruff.toml) on the code, the tests and the benchmarks; mypy (setup.cfg) on the code.
lint: $(VENV)/.installed-testing
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src

# The linters first: a finding fails the run before the suite starts. Then the two databases'
# legs at once: most of a test's time is waiting (servers starting, browsers, a writer's
# interval), so together they take about as long as one. The PostgreSQL leg's output goes to
# var/test-postgresql.log and is shown once both are done; the run fails if either does.
test: lint browser-deps nginx-deps bench-deps | var
	@pg=; \
	if $(PY) -m tests.postgresql; then \
		echo "== the same suite on PostgreSQL, at the same time: var/test-postgresql.log =="; \
		$(PY) -m pytest -p no:cacheprovider --database=postgresql > var/test-postgresql.log 2>&1 & pg=$$!; \
	elif [ -n "$$REQUIRE_POSTGRESQL" ]; then \
		echo "PostgreSQL at $$TRACKING_TEST_POSTGRESQL is not reachable, and REQUIRE_POSTGRESQL is set"; exit 1; \
	else \
		echo "SKIPPED the PostgreSQL leg: no server at $$TRACKING_TEST_POSTGRESQL"; \
	fi; \
	$(PY) -m pytest --cov=tracking --cov-report=term-missing:skip-covered --cov-fail-under=90; sqlite=$$?; \
	postgresql=0; \
	if [ -n "$$pg" ]; then \
		wait $$pg; postgresql=$$?; \
		echo "== the PostgreSQL leg (exit status $$postgresql) =="; cat var/test-postgresql.log; \
	fi; \
	[ $$sqlite -eq 0 ] && [ $$postgresql -eq 0 ]

# $(call apt_install,TARGET,CHECK,PACKAGE,WITHOUT): Debian's PACKAGE, unless CHECK succeeds, installed
# when this can be (as root, with apt-get); otherwise TARGET says so, and what happens WITHOUT it.
define apt_install
if $(2); then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "$(1): installing Debian's $(3) (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(3) >/dev/null; } \
			|| echo "$(1): apt-get could not install $(3): $(4)"; \
	else \
		echo "$(1): no $(3) and no way to install it here (needs root and apt-get): $(4)"; \
	fi
endef

# What the browser tests (tests/browser) need besides Python: Debian's headless Chromium, and the
# packages of tests/browser/package.json: axe-core, and the peers' own clients (Plausible's tracker,
# Umami's Node client, run by node). Idempotent; a step that cannot run here says so and the tests
# concerned skip.
.PHONY: browser-deps
browser-deps:
	@$(call apt_install,browser-deps,[ -x /usr/bin/chromium ],chromium,the browser tests will skip)
	@if [ -d tests/browser/node_modules/axe-core ] && [ -d tests/browser/node_modules/@plausible-analytics/tracker ] \
		&& [ -d tests/browser/node_modules/@umami/node ]; then :; \
	elif command -v npm >/dev/null 2>&1; then \
		echo "browser-deps: installing axe-core and the peers' clients (npm ci --prefix tests/browser)"; \
		npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error \
			|| echo "browser-deps: npm ci failed: the accessibility and peer-client tests will skip"; \
	else \
		echo "browser-deps: no npm, so no axe-core nor peers' clients: the accessibility and peer-client tests will skip"; \
	fi

# nginx, for tests/slow/test_nginx.py (deploy/nginx.conf in front of two real processes).
# Idempotent; where it cannot be installed the test skips, saying so (or fails with REQUIRE_NGINX).
.PHONY: nginx-deps
nginx-deps:
	@$(call apt_install,nginx-deps,[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1,nginx-light,the nginx test will skip)

# wrk, the load generator of bench/ingest.py and bench/flood.py (the slow tests run them briefly).
# Idempotent; without it those benchmarks fall back to a slower Python load generator.
.PHONY: bench-deps
bench-deps:
	@$(call apt_install,bench-deps,command -v wrk >/dev/null 2>&1,wrk,the benchmarks use their Python load generator)

test-sqlite: $(VENV)/.installed-testing
	$(PY) -m pytest

test-postgresql: $(VENV)/.installed-testing
	@echo "== the same suite on PostgreSQL =="
	$(PY) -m pytest --database=postgresql

bench: $(VENV)/.installed-testing
	$(PY) -m bench.ingest
	$(PY) -m bench.dashboard --keep var/bench

# Ten minutes at 80 % of the beacon's peak rate: errors and memory over time.
soak: $(VENV)/.installed-testing
	$(PY) -m bench.soak --database sqlite

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .coverage .mypy_cache .ruff_cache
