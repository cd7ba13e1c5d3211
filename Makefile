# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The lock file: every package and its hashes, for the Pythons pyproject.toml allows
LOCK := requirements.lock
LOCK_COMMAND = $(BIN)/uv pip compile pyproject.toml --extra dev --universal \
	--python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock" -o $(LOCK)

.PHONY: run test machine machine-run test-postgres lint format bench lock lock-upgrade clean

# Exactly the locked versions (hashes checked), then the project itself without resolving again
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Debian's packages the tests (or the receipts) need; the same step CI runs
machine:
	scripts/prepare-machine test

machine-run:
	scripts/prepare-machine run

run: machine-run $(STAMP)
	$(BIN)/placefund db upgrade
	$(BIN)/placefund demo --if-empty
	$(BIN)/placefund serve --host 127.0.0.1 --port 5000 --with-worker

# The machine is prepared, so a test that finds a part of it missing fails instead of skipping
test: machine $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	PLACEFUND_REQUIRE_MACHINE=1 $(BIN)/python -m pytest -q

# PostgreSQL-marked tests; TEST_DATABASE_URL defaults to this machine's server.
test-postgres: machine $(STAMP)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
		PLACEFUND_REQUIRE_MACHINE=1 $(BIN)/python -m pytest -q -m postgres

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/python bench/ledger_bench.py

# Re-resolve after a change to pyproject.toml, keeping every pin that still fits
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.9,<1'
	$(LOCK_COMMAND)

# Every package to the newest release pyproject.toml allows; then run `make test`
lock-upgrade:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.9,<1'
	$(LOCK_COMMAND) --upgrade

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
