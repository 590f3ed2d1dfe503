# The two commands of the README quickstart. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean mutation notebooks docs

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(BIN)/.installed
	@scripts/install-graphviz.sh
	@scripts/install-chromium.sh
	$(BIN)/python -m tinygrad_ann demo

test: $(BIN)/.installed lint docs
	@scripts/install-chromium.sh
	# Two workers on two cores: OpenBLAS's own threads on top oversubscribe them, which
	# made medium matrix products 40x slower and the suite a quarter longer.
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 -q

# The notebooks, executed top to bottom by a real Jupyter kernel into build/notebooks/
# (with their outputs); any error, warning, stderr output or a notebook over its time
# limit fails. NOTEBOOK=01_perceptron_diabetes runs one.
notebooks: $(BIN)/.installed
	@scripts/install-graphviz.sh
	$(BIN)/python scripts/run_notebooks.py $(NOTEBOOK)

# The documentation site, built strict into build/site/ (open build/site/index.html).
docs: notebooks
	$(BIN)/python scripts/build_docs.py

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy tinygrad_ann

# Mutation testing (tests/MUTATION.md): too slow for `make test`. MODULE=ops runs one module.
# mutmut works on a copy under build/ so the mutated tree never meets ruff, mypy or pytest.
MUTATION_DIR := build/mutation
mutation: $(BIN)/.installed
	rm -rf $(MUTATION_DIR) && mkdir -p $(MUTATION_DIR)
	cp -R pyproject.toml tinygrad_ann tests scripts/mutation_pytest_plugin.py $(MUTATION_DIR)/
	find $(MUTATION_DIR) -name __pycache__ -prune -exec rm -rf {} +
	cd $(MUTATION_DIR) && ../../$(BIN)/mutmut run --max-children 2 \
		$(if $(MODULE),"tinygrad_ann.$(MODULE).*") > mutmut.log 2>&1 \
		|| { tail -n 40 mutmut.log; exit 1; }
	$(BIN)/python scripts/mutation_report.py --workdir $(MUTATION_DIR) $(if $(MODULE),--module $(MODULE))

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .ruff_cache .hypothesis
