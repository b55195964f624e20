# Everything runs from a virtualenv in .venv; the control-plane binaries are built once into
# ~/.cache/orgo-operator (or taken from KUBEBUILDER_ASSETS) and reused from then on.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
RUN_ARGS ?= --all-namespaces
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' pyproject.toml)
IMAGE ?= orgo-operator:$(VERSION)
DOCKER ?= docker

.PHONY: help install assets test unit e2e lint manifests template image demo demo-once bench \
	bench-failover run crd clean

help:
	@echo "make demo       control plane + simulator + operator, an OrgoComputer until Ready"
	@echo "make demo-once  the same, exiting 0 once Ready (for scripts)"
	@echo "make test       install what the tests need, then run the whole suite"
	@echo "make unit       the tests that need no control plane (unit, simulator, chart)"
	@echo "make lint       hadolint the Dockerfile, helm lint the chart, check deploy/manifests"
	@echo "make manifests  write deploy/manifests (and the chart's CRD copy) from the chart"
	@echo "make template   render the chart (VALUES=file.yaml for your values)"
	@echo "make image      build the container image $(IMAGE) (needs a Docker engine)"
	@echo "make bench      measure kubectl apply -> Ready"
	@echo "make bench-failover  measure how long a standby replica takes to take over"
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

test: assets lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: install
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

e2e: assets
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

# The chart's lint and the generated files' check are tests too (tests/deploy); this is the
# quick look before a commit.
lint: install
	$(BIN)/hadolint --failure-threshold style Dockerfile
	$(BIN)/python -m tests.deploy.chart
	$(BIN)/python -m tests.deploy.generate --check

manifests: install
	$(BIN)/python -m tests.deploy.generate

# Render the chart with Helm's engine, as `helm template` would: make template VALUES=my.yaml
template: install
	@$(BIN)/python -m tests.deploy.chart template $(if $(VALUES),-f $(VALUES))

image:
	$(DOCKER) build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

demo: assets
	$(BIN)/python -m tests.demo

demo-once: assets
	$(BIN)/python -m tests.demo --once

bench: assets
	$(BIN)/python -m tests.bench.apply_to_ready

bench-failover: assets
	$(BIN)/python -m tests.bench.failover

run: install
	$(BIN)/orgo-operator run $(RUN_ARGS)

crd:
	kubectl apply --server-side -f crds/

clean:
	rm -rf .run .pytest_cache
