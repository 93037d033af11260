# tinyhar: two commands on a fresh machine
#   make demo   creates .venv, installs tinyhar, trains on the bundled HAPT data, prints the result
#   make test   creates .venv, installs the test extras, runs the whole test suite
# Installs are pinned by constraints.txt (reproducible; torch is the CPU build).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_FLAGS := --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test lint bench clean install install-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install $(PIP_FLAGS) -e ".[test]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(BIN)/tinyhar train --out runs/demo --overwrite

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks scripts

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/features_throughput.py
	$(BIN)/python benchmarks/accuracy.py

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info .pytest_cache
