# tinyhar: two commands on a fresh machine
#   make demo   creates .venv, installs tinyhar, trains on the bundled HAPT data, prints the result
#   make test   creates .venv, installs the test extras, runs the whole test suite
# Installs are pinned by constraints.txt (reproducible; torch is the CPU build).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PIP_FLAGS := --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test test-portable lint bench clean install install-test check-python labelstudio

# The pins in constraints.txt have wheels for CPython 3.11 to 3.14 (numpy 2.4 and
# pandas 3 need 3.11); say so before anything is installed.
check-python:
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v <= (3, 14) else 1)' 2>/dev/null || { \
	  echo "tinyhar needs Python 3.11 to 3.14; '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)."; \
	  echo "Install one (python.org, your package manager, or pyenv) and run e.g. 'make PYTHON=python3.12 $(MAKECMDGOALS)'."; \
	  exit 1; }

$(BIN)/python: | check-python
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

# Two worker processes (pytest-xdist; the guide's 2-core machine), each test file whole
# in one of them: a file's module-scoped fixtures are built once, its tests keep their order.
TEST_WORKERS ?= 2

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The feature and parity tests again with numpy's SIMD dispatch narrowed (first the
# widest kernels off, then all dispatched kernels off), as another CPU would run them.
test-portable: $(VENV)/.installed-test
	$(BIN)/python scripts/narrowed_dispatch.py -- -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile tests/features tests/export tests/models

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks scripts

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/features_throughput.py
	$(BIN)/python benchmarks/accuracy.py

# Label Studio for the labelling integration test (tests/test_labelling_labelstudio.py)
# in its own venv: label-studio-sdk's dependencies (opencv) conflict with tinyhar's numpy pin.
# Pinned by constraints-labelstudio.txt; the database is migrated once into template-data
# (about 2 minutes) so that each test run starts a server in seconds.
LS_VENV ?= .venv-labelstudio
LS_QUIET_ENV := SENTRY_DSN= FRONTEND_SENTRY_DSN= LATEST_VERSION_CHECK=false COLLECT_ANALYTICS=false

$(LS_VENV)/.installed: constraints-labelstudio.txt | check-python
	$(PYTHON) -m venv $(LS_VENV)
	$(LS_VENV)/bin/python -m pip install --disable-pip-version-check -q \
	  -c constraints-labelstudio.txt label-studio==1.23.2 label-studio-sdk
	rm -rf $(LS_VENV)/template-data
	$(LS_QUIET_ENV) $(LS_VENV)/bin/label-studio version --data-dir $(LS_VENV)/template-data \
	  >/dev/null 2>&1
	touch $@

labelstudio: $(LS_VENV)/.installed

clean:
	rm -rf $(VENV) $(LS_VENV) runs build *.egg-info src/*.egg-info .pytest_cache
