# Everything runs from a virtualenv in .venv; the control-plane binaries are built once into
# ~/.cache/orgo-operator (or taken from KUBEBUILDER_ASSETS) and reused from then on.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
RUN_ARGS ?= --all-namespaces

.PHONY: help install assets test unit e2e demo demo-once bench run crd clean

help:
	@echo "make demo       control plane + simulator + operator, an OrgoComputer until Ready"
	@echo "make demo-once  the same, exiting 0 once Ready (for scripts)"
	@echo "make test       install what the tests need, then run the whole suite"
	@echo "make unit       the unit and simulator tests only (no control plane)"
	@echo "make bench      measure kubectl apply -> Ready"
	@echo "make run        the operator against your current kubeconfig (needs ORGO_API_KEY)"
	@echo "make crd        kubectl apply the CRD to your current cluster"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/.installed

assets: install
	$(BIN)/python -m tests.envtest.controlplane assets

test: assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

e2e: assets
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

demo: assets
	$(BIN)/python -m tests.demo

demo-once: assets
	$(BIN)/python -m tests.demo --once

bench: assets
	$(BIN)/python -m tests.bench.apply_to_ready

run: install
	$(BIN)/orgo-operator run $(RUN_ARGS)

crd:
	kubectl apply --server-side -f crds/

clean:
	rm -rf .run .pytest_cache
