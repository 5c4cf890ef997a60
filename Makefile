# The two commands: `make demo` and `make test`. Both set up what they need (.venv, kubectl/helm, npm proxy).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# configurable-http-proxy (JupyterHub's proxy) for the e2e tests and the demo, pinned in package-lock.json.
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: all test lint type imports pytest demo clean unit integration e2e bench k8s screenshots

all: test

$(STAMP): pyproject.toml tools/fetch_k8s_binaries.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# rfc3987-syntax costs ~0.8 s of import time in every single-user server and nothing here needs it.
	-$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax 2>/dev/null
	$(BIN)/python tools/fetch_k8s_binaries.py --dest $(BIN)
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

venv: $(STAMP)

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
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache
