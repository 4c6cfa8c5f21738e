# smsq: the commands a user and CI run. `make demo` and `make test` set everything up themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint unit bench flower clean

# The virtual environment is rebuilt only when pyproject.toml changes, so a second run is quick.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/smsq demo

lint: $(STAMP)
	$(BIN)/ruff check providers campaigns worker smsq bench tests
	$(BIN)/ruff format --check providers campaigns worker smsq bench tests
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint unit

bench: $(STAMP)
	$(BIN)/python -m bench

flower: $(STAMP)
	$(BIN)/smsq flower

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
