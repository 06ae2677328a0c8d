# Two commands for a newcomer: `make run` and `make test`. Both install into ./.venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST := $(BIN)/pytest

.PHONY: install lock run test test-fast lint format migrate system-deps clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	# Exact versions from the lock (torch is the CPU build this machine has on disk).
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Re-resolve pyproject.toml in a throwaway venv and write the lock; review the diff, then test.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip==26.3
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	head -3 requirements.lock > requirements.lock.new
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' >> requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv

run: install
	$(BIN)/rft serve

# The suite runs on PostgreSQL + Redis when RFT_TEST_DATABASE_URL / RFT_TEST_REDIS_URL are set,
# then the `embedded` tests run again on the zero-setup default (SQLite + filesystem broker).
test: install system-deps
	$(PYTEST) tests
	@if [ -n "$$RFT_TEST_DATABASE_URL$$RFT_TEST_REDIS_URL" ]; then \
		echo "== embedded tests again on SQLite + filesystem broker =="; \
		env -u RFT_TEST_DATABASE_URL -u RFT_TEST_REDIS_URL $(PYTEST) -m embedded tests; \
	fi

# Unit and API tests (minutes): no browser, no training, nothing marked slow or gpu.
test-fast: install system-deps
	$(PYTEST) -m "not e2e and not slow and not gpu" --ignore=tests/e2e \
		--ignore=tests/worker/test_training.py tests

lint: install
	$(BIN)/ruff check app worker tests bench migrations
	$(BIN)/ruff format --check app worker tests bench migrations
	$(BIN)/mypy app worker
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix app worker tests bench migrations
	$(BIN)/ruff format app worker tests bench migrations

migrate: install
	$(BIN)/rft migrate

# Chromium (browser tests) and bubblewrap (evaluator sandbox) from Debian, when root.
system-deps:
	@bash scripts/system-deps.sh

clean:
	rm -rf $(VENV) .rft .pytest_cache .mypy_cache .ruff_cache
