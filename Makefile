# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv if missing, start the bundled JSOC emulator, run a real fetch flow
#   make test   - create .venv if missing, run the static checks and the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 120

.PHONY: demo test test-fast check format bench ui-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,dask,examples,bench]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/prefect-jsoc demo

# The suite waits (on leases, servers, slow downloads) about as much as it computes, so two workers,
# each with its own emulator and Prefect server, halve it on two cores. A module stays on one worker.
PYTEST_WORKERS ?= 2

test: $(STAMP) check
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile

# Static checks (part of `make test`): lint, formatting, docstrings on the public API.
check: $(STAMP)
	$(BIN)/ruff check prefect_jsoc tests bench flows deployments tools
	$(BIN)/ruff format --check prefect_jsoc tests bench flows deployments tools
	$(BIN)/interrogate prefect_jsoc

format: $(STAMP)
	$(BIN)/ruff check --fix prefect_jsoc tests bench flows deployments tools
	$(BIN)/ruff format prefect_jsoc tests bench flows deployments tools

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow and not ui"

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) data .pytest_cache
