# Two commands for a newcomer: `make run` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

# The suite runs against real PostgreSQL and Redis; these are the local defaults.
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/hub)
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
# pytest-xdist processes. Each has its own test database (test_<name>_gw<n>), Redis database
# (TEST_REDIS_URL's number + n) and key prefix; see tests/settings.py. Many tests wait on
# sockets and child processes, so one more than the two cores we measured on pays off.
TEST_WORKERS ?= 3

.PHONY: run test lint format install lock clean bench bench-smoke bench-install

$(BIN)/python:
	@echo "Creating the virtual environment in $(VENV)..."
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.lock pyproject.toml | $(BIN)/python
	@echo "Installing the pinned dependencies into $(VENV) (the first time takes a minute or two)..."
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)
	@echo "Dependencies installed."

install: $(STAMP)

run: install
	@echo "Migrating the database..."
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py demo_data
	$(BIN)/python manage.py serve

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit --quiet --recursive --severity-level medium \
		--exclude '*/tests/*,*/migrations/*' config conventions accounts hub notifications bookings chat payments privacy web

test: install lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) \
	SECRET_KEY=test-only-secret-key-not-for-production DEBUG=false SECURE_SSL_REDIRECT=false \
	ALLOWED_HOSTS=testserver,localhost,127.0.0.1 PAYMENTS_DEV_ALLOWED=true \
	$(BIN)/pytest -n $(TEST_WORKERS) --cov --cov-report=term $(PYTEST_ARGS)

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin requirements.lock from the ranges in pyproject.toml.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra dev --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.lock pyproject.toml

# The hub against python-socketio and the Channels tutorial (bench/versus, docs/benchmarks.md).
# Needs PostgreSQL and Redis as for `make test`; uses database hubbench_versus, Redis db 8 and
# ports 8201-8212 on 127.0.0.1. The first call installs the bench extra (bench/requirements.lock).
BENCH_STAMP ?= $(VENV)/.bench-installed

$(BENCH_STAMP): bench/requirements.lock | $(STAMP)
	$(BIN)/python -m pip install --quiet -r bench/requirements.lock
	@touch $(BENCH_STAMP)

bench-install: $(BENCH_STAMP)

# The full run: 20-30 minutes on 2 cores; writes bench/results/versus-<date>.json and .png.
bench: bench-install
	$(BIN)/python -m bench.versus $(BENCH_ARGS)

# Tiny sizes, every scenario against every server: a minute or three.
bench-smoke: bench-install
	$(BIN)/python -m bench.versus --smoke --out /tmp/hubbench-versus/results $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .coverage
