# The two commands: `make demo` and `make test`. Both set up what they need (.venv, kubectl/helm, npm proxy).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The lock (docs/versions.md): hashed requirements files written by `uv pip compile` (`make lock`). Every
# venv here is made exactly what one of them names (`uv pip sync`), then the project is added, editable,
# without dependencies.
LOCK := requirements/dev.txt
LOCK_JUPYTERHUB5 := requirements/dev-jupyterhub5.txt
# The JupyterHub axis: .venv has the newest JupyterHub (make test); this venv has JupyterHub 5, the one of
# Zero to JupyterHub 4.3.3's hub image (make test-jupyterhub5; CI runs both).
VENV_JUPYTERHUB5 := .venv-jupyterhub5
JUPYTERHUB_TESTS := tests/unit/spawner tests/e2e
# configurable-http-proxy (JupyterHub's proxy) for the e2e tests and the demo, pinned in package-lock.json.
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=
# The Kubernetes axis (make test-matrix): one release per minor, from `k8s-local versions`; test-upstream
# runs one (K8S_VERSION, default k8s-local's own).
K8S_VERSION ?=
MATRIX_TESTS := tests/integration/kubesim tests/integration/operator tests/e2e
# uv uses the Python it is given; it never downloads one.
export UV_PYTHON_DOWNLOADS := never

.PHONY: all test lint type imports pytest demo clean unit integration e2e bench k8s venv lock \
	test-jupyterhub5 test-jupyterhub6 test-upstream test-matrix screenshots

all: test

# $(1): the venv, $(2): its lock. `uv pip sync` leaves a venv's seed packages alone: setuptools (which
# `python -m venv` adds on Python 3.11) is not in the lock, so it goes.
define sync
	$(BIN)/uv pip sync --quiet --python $(1)/bin/python --require-hashes $(2)
	$(BIN)/uv pip uninstall --quiet --python $(1)/bin/python setuptools wheel
	$(BIN)/uv pip install --quiet --python $(1)/bin/python --no-deps \
		--build-constraints requirements/build.txt -e .
endef

$(STAMP): pyproject.toml $(LOCK) requirements/build.txt tools/bootstrap_uv.py tools/fetch_k8s_binaries.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# uv itself comes from the lock (its version and hashes), installed with the venv's own pip once.
	@test -x $(BIN)/uv || $(BIN)/python tools/bootstrap_uv.py --lock $(LOCK)
	$(call sync,$(VENV),$(LOCK))
	$(BIN)/python tools/fetch_k8s_binaries.py --dest $(BIN)
	@touch $(STAMP)

$(VENV_JUPYTERHUB5)/.installed: $(STAMP) $(LOCK_JUPYTERHUB5)
	@test -x $(VENV_JUPYTERHUB5)/bin/python || $(BIN)/uv venv --quiet --python $(PYTHON) $(VENV_JUPYTERHUB5)
	$(call sync,$(VENV_JUPYTERHUB5),$(LOCK_JUPYTERHUB5))
	cp $(BIN)/kubectl $(BIN)/helm $(VENV_JUPYTERHUB5)/bin/
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

venv: $(STAMP)

# Refresh the lock: every package to the newest version pyproject.toml's ranges allow (`make lock
# LOCK_ARGS=` keeps the current pins and only adds what pyproject.toml gained). The dev lock comes first:
# the operator's and the hub image's locks are held to it, so the images run what the tests ran.
LOCK_ARGS ?= --upgrade
# The development locks leave out what requirements/overrides.txt names (install them with --no-deps); the
# images' locks are complete.
COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes $(LOCK_ARGS)
DEV_COMPILE = $(COMPILE) --override requirements/overrides.txt
lock: $(STAMP)
	$(DEV_COMPILE) pyproject.toml --extra dev -o $(LOCK)
	$(DEV_COMPILE) pyproject.toml --extra dev -c requirements/jupyterhub5.in -o $(LOCK_JUPYTERHUB5)
	$(COMPILE) pyproject.toml --extra operator -c $(LOCK) -o requirements/operator.txt
	$(COMPILE) pyproject.toml --extra spawner -c $(LOCK_JUPYTERHUB5) -o requirements/spawner-jupyterhub5.txt
	$(COMPILE) requirements/build.in -o requirements/build.txt

lint: $(STAMP)
	$(BIN)/ruff check operator tests bench tools
	$(BIN)/ruff format --check operator tests bench tools

type: $(STAMP)
	$(BIN)/mypy

imports: $(STAMP)
	$(BIN)/lint-imports

# Upstream Kubernetes (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) built from source with
# Go and cached outside the checkout: minutes when cold, nothing when cached. Without Go, the upstream half of
# the suite is skipped with its reason, except under CI, where it must run.
k8s: $(STAMP)
	$(BIN)/k8s-local build $(if $(CI),,--skip-without-go)

pytest: $(STAMP) $(NODE_STAMP) k8s
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest $(PYTEST_ARGS)

test: lint type imports pytest

unit: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest tests/unit $(PYTEST_ARGS)

integration: $(STAMP) k8s
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest tests/integration $(PYTEST_ARGS)

e2e: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest tests/e2e $(PYTEST_ARGS)

# The spawner's unit tests and the e2e suite on each JupyterHub (its hub and its jupyterhub-singleuser): 6
# in .venv (make test runs them there too), 5 in .venv-jupyterhub5.
test-jupyterhub6: $(STAMP) $(NODE_STAMP) k8s
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest $(JUPYTERHUB_TESTS) $(PYTEST_ARGS)


test-jupyterhub5: $(VENV_JUPYTERHUB5)/.installed $(NODE_STAMP) k8s
	PATH="$(CURDIR)/$(VENV_JUPYTERHUB5)/bin:$$PATH" $(VENV_JUPYTERHUB5)/bin/pytest $(JUPYTERHUB_TESTS) \
		$(PYTEST_ARGS)

# The conformance suite (kubesim's, held to upstream: tests/integration/kubesim), the operator's integration
# tests and the e2e suite on one upstream release (K8S_VERSION=v1.35.8), with the kubectl of its minor: the
# upstream half only (--upstream-only).
test-upstream: $(STAMP) $(NODE_STAMP)
	$(BIN)/k8s-local build $(if $(K8S_VERSION),--version $(K8S_VERSION))
	$(BIN)/python tools/fetch_k8s_binaries.py $(if $(K8S_VERSION),--kubernetes $(K8S_VERSION)) \
		--dest $(VENV)/kubernetes/$(or $(K8S_VERSION),default)
	JUPYTERNETES_K8S_VERSION="$(K8S_VERSION)" JUPYTERNETES_TOOLS="$(CURDIR)/$(VENV)/kubernetes/$(or $(K8S_VERSION),default)" \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest --backends=upstream --upstream-only \
		$(MATRIX_TESTS) $(PYTEST_ARGS)

# test-upstream on each of the four newest minors, one after the other (each release is built once, then
# cached); every minor runs even when one fails, and the failures are named at the end.
test-matrix: $(STAMP) $(NODE_STAMP)
	@failed=""; for version in $$($(BIN)/k8s-local versions); do \
		echo "=== Kubernetes $$version"; start=$$(date +%s); \
		$(MAKE) --no-print-directory test-upstream K8S_VERSION=$$version || failed="$$failed $$version"; \
		echo "=== Kubernetes $$version: $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-matrix failed on:$$failed"; exit 1; fi

demo: $(STAMP) $(NODE_STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/jupyternetes up

# The pictures in README.md and docs/spawner.md: the browser test takes them (on kubesim) into docs/images.
# Needs Chromium (README.md, "Browser tests").
screenshots: $(STAMP) $(NODE_STAMP)
	JUPYTERNETES_SCREENSHOTS="$(CURDIR)/docs/images" PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/pytest tests/e2e/test_browser.py --backends=kubesim $(PYTEST_ARGS)

format: $(STAMP)
	$(BIN)/ruff format operator tests bench tools
	$(BIN)/ruff check --fix operator tests bench tools

clean:
	rm -rf $(VENV) $(VENV_JUPYTERHUB5) node_modules .mypy_cache .pytest_cache .ruff_cache
