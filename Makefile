# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
# `make docs` builds the documentation site into site/ (strict: a broken link or a missing page fails it).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint docs clean

# torch is installed pinned first: torch==2.13.0 resolves to a CPU build here, where an unpinned resolve could
# pull a multi-GB CUDA build; pyproject's range (>=2.13,<2.14) is then already satisfied (docs/audit-your-data.md: CUDA build).
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: $(PYTHON) not found; Python 3.11+ is required (PYTHON=python3 make ...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mlgate audit --spec examples/adult/audit.toml
	@echo "--- the same candidates against the high-risk pack (exit 1 = a blocking gate failed: a finding) ---"
	@status=0; $(BIN)/mlgate audit --spec examples/adult/audit.toml --policy policies/high-risk.json || status=$$?; \
	  test $$status -le 1
	$(BIN)/mlgate verify

lint: $(STAMP)
	$(BIN)/ruff check engine cli tui tests bench scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: $(STAMP)
	$(BIN)/python -m scripts.docs_reference
	$(BIN)/mkdocs build --strict

test: lint
	$(BIN)/pytest -n 2

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
