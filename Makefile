# The two commands a new user needs (see README.rst):
#   make demo   - the example project + the sandbox gateway, on SQLite
#   make test   - the whole test suite (SQLite, then PostgreSQL when a server is reachable)
#   make docs   - the documentation site in docs/_build/html (warnings are errors)
# Both create .venv with python3 and install the project into it on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint docs install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/python example_project/demo.py

test: $(BIN)/.installed
	$(BIN)/python scripts/run_tests.py

# -W --keep-going: every warning is reported, and any fails the build. linkcheck checks the
# internal references only (docs/conf.py ignores external URLs: the build runs offline).
docs: $(BIN)/.installed
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html
	$(BIN)/sphinx-build -W --keep-going -q -b linkcheck docs docs/_build/linkcheck

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache dist build docs/_build
