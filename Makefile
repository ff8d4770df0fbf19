# The two commands a fresh machine needs:  `make demo`  and  `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
DEMO_DIR ?= newsrec-data
DEMO_ARTICLE ?= sec-libya-03
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install browser demo test lint

# The CPU torch first, from this machine's wheel: a bare `torch` requirement would pull a
# multi-GB CUDA build.
install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[all]'

# Debian's Chromium for the demo-page browser test. Best effort: where apt cannot install
# it, that one test skips with a reason and the rest of the suite still runs.
browser:
	@command -v chromium >/dev/null 2>&1 || \
		(apt-get install -y -q chromium >/dev/null 2>&1 || \
		 (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || \
		echo "chromium could not be installed: the browser test will be skipped"

# Index the demo corpus, store its related lists, show one article's slots and related
# stories, then serve the API and the demo page until interrupted (the URL is printed when
# it starts).
demo: install
	newsrec index seeds/articles.jsonl --index-dir $(DEMO_DIR)
	newsrec precompute --index-dir $(DEMO_DIR)
	newsrec slots $(DEMO_ARTICLE) --index-dir $(DEMO_DIR)
	newsrec related $(DEMO_ARTICLE) -k 5 --index-dir $(DEMO_DIR)
	newsrec serve --index-dir $(DEMO_DIR) --host $(HOST) --port $(PORT)

lint:
	ruff check recommender embeddings service eval tests
	ruff format --check recommender embeddings service eval tests
	mypy

test: install browser lint
	$(PYTHON) -m pytest
