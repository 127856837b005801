# djangoops.stack: the development environment, the demo and the tests.
#   make demo        a local Debian container running the example project behind nginx over HTTPS
#   make test        lint, unit tests, then the Molecule scenarios on Debian 12 and 13
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_FORCE_COLOR ?= 1
# Longest first, so that the two slots end close together.
SCENARIOS ?= backup servers cluster default releases apache acme

.PHONY: help venv lint sanity docs unit molecule compat test demo demo-clean images build clean bench bench-servers

help:
	@echo "make demo        converge a local Debian 12 container with the example project (https://localhost:8443/)"
	@echo "make demo-clean  remove the demo container"
	@echo "make test        lint + unit tests + Molecule scenarios ($(SCENARIOS)) + compat"
	@echo "make bench       figures: each server direct and through nginx, static files, memory, run times and their growth (docs/benchmarks/)"
	@echo "make bench-servers  figures per application server (throughput, requests in flight on reload)"
	@echo "make compat      converge the demo from the current ansible release, then run it again from the oldest supported ansible-core"
	@echo "make docs        the reference as HTML (.cache/docs/site/build/html/index.html)"
	@echo "make lint | sanity | unit | molecule | images | build | venv | clean"

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

venv: $(VENV)/.installed

lint: venv sanity
	yamllint --strict .
	ruff check .
	ruff format --check .
	ansible-lint

# ansible-test sanity on the built collection, from its own virtualenv (.cache/sanity).
sanity: venv
	scripts/sanity

# The reference (roles, modules, filters, lookup) as HTML under .cache/docs; a warning fails it.
docs: venv
	scripts/docs

unit: venv
	scripts/testbed unit-tools
	pytest tests/unit

images: venv
	scripts/testbed images

molecule: venv images
	scripts/molecule-scenarios $(SCENARIOS)

# The demo inventory converged from the current ansible release in a Debian 13 control-node
# container, then run again, changing nothing, from the oldest ansible-core that meta/runtime.yml
# claims with only the collections galaxy.yml declares.
compat: venv images
	scripts/compat

# The checks (lint, docs, unit), the scenarios and the compat runs share MOLECULE_JOBS slots: the
# checks take the first while the base images are built, compat goes last and fills the slot the
# first scenario to end leaves.
test: venv
	scripts/molecule-scenarios checks $(SCENARIOS) compat

demo: venv
	scripts/testbed demo

demo-clean:
	scripts/testbed demo-clean

# Figures, not tests: requests/s and p50/p99 per application server, directly and through nginx;
# a static file against nginx's own limit; cold, no-change and code-only runs. Writes
# docs/benchmarks/ (results.json, README.md, a chart per table); removes its containers at the end.
bench: venv images
	$(BIN)/pip install --quiet -r benchmarks/requirements.txt
	$(BIN)/python benchmarks/bench.py

# Figures, not tests: per application server, requests/s through nginx and what a reload or a
# restart does to requests in flight (converges the servers scenario's host, then removes it).
bench-servers: venv images
	scripts/bench-servers

build: venv
	ansible-galaxy collection build --force

clean: demo-clean
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache djangoops-stack-*.tar.gz
