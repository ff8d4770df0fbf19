# The two commands a fresh machine needs:  `make demo`  and  `make test`.
# The everyday one after that:  `make check`  (lint, types and the fast tests).
#
# Both install into the project's own virtual environment, .venv (created when missing,
# reused when present), never into the Python on PATH: a Debian or Ubuntu system Python
# refuses global installs, and elsewhere they would change the user's own packages.
SYSTEM_PYTHON ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PIP := $(PYTHON) -m pip
BIN := $(VENV)/bin
# The CPU build, from this machine's wheel: a bare `torch` requirement would pull a
# multi-GB CUDA build. The local version label makes pip fail rather than fall back to it.
TORCH ?= torch==2.13.0+cpu
DEMO_DIR ?= newsrec-data
DEMO_ARTICLE ?= sec-libya-03
HOST ?= 127.0.0.1
PORT ?= 8000
CODE := recommender embeddings service eval tests
# What `make check` leaves out (pytest markers, see pyproject.toml); `make test` runs all.
FAST_TESTS ?= not slow and not model and not ray and not browser and not crash

.PHONY: venv install install-demo browser demo test lint check

# A failed `venv` (Debian without python3-venv) leaves a half-made directory whose
# bin/python would satisfy this target next time: remove it.
$(PYTHON):
	@$(SYSTEM_PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
		echo "could not create $(VENV) with $(SYSTEM_PYTHON) -m venv (on Debian/Ubuntu: apt-get install python3-venv)" >&2; \
		exit 1; }

venv: $(PYTHON)

# Stamps inside .venv: a second `make demo` does not run pip again unless pyproject.toml
# changed, and a new .venv starts without them.
$(VENV)/.torch-installed: | $(PYTHON)
	$(PIP) install --quiet '$(TORCH)'
	@touch $@

# The demo needs the model and the service only (no ray, pyarrow, playwright, qdrant, onnx).
$(VENV)/.demo-installed: pyproject.toml $(VENV)/.torch-installed
	$(PIP) install --quiet -e '.[model,service]'
	@touch $@

# The tests need every extra: the model, the service, eval, dev tools, Qdrant, ONNX, Ray.
$(VENV)/.all-installed: pyproject.toml $(VENV)/.torch-installed
	$(PIP) install --quiet -e '.[all]'
	@touch $@ $(VENV)/.demo-installed

install-demo: $(VENV)/.demo-installed
install: $(VENV)/.all-installed

# Debian's Chromium for the demo-page browser test. Best effort: where apt cannot install
# it, that one test skips with a reason and the rest of the suite still runs.
browser:
	@command -v chromium >/dev/null 2>&1 || \
		(apt-get install -y -q chromium >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || \
		echo "chromium could not be installed: the browser test will be skipped"

# Index the demo corpus (which also stores every article's related list and slots), show
# one article's slots and related stories, then serve the API and the demo page until
# interrupted (the URL is printed when it starts).
demo: install-demo
	$(BIN)/newsrec index seeds/articles.jsonl --index-dir $(DEMO_DIR)
	$(BIN)/newsrec slots $(DEMO_ARTICLE) --index-dir $(DEMO_DIR)
	$(BIN)/newsrec related $(DEMO_ARTICLE) -k 5 --index-dir $(DEMO_DIR)
	$(BIN)/newsrec serve --index-dir $(DEMO_DIR) --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy

test: install browser lint
	$(PYTHON) -m pytest

# The everyday run, in under two minutes: the same lint and types, and the tests without the
# slow, model, Ray, browser and crash ones. It installs nothing: run `make install` (or
# `make test`) once first.
check:
	@test -x $(BIN)/ruff -a -x $(BIN)/mypy || \
		{ echo "$(VENV) has no dev tools: run make install first" >&2; exit 1; }
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy
	$(PYTHON) -m pytest -q -m "$(FAST_TESTS)"
