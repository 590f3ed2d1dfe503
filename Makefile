# The two commands of the README quickstart. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	@scripts/install-graphviz.sh
	@scripts/install-chromium.sh
	$(BIN)/python -m tinygrad_ann demo

test: $(BIN)/.installed lint
	@scripts/install-graphviz.sh
	@scripts/install-chromium.sh
	$(BIN)/python -m pytest -n 2 -q

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tinygrad_ann

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache .hypothesis
