# The two commands a fresh machine needs:  `make demo`  and  `make test`.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
DEMO_DIR ?= newsrec-data
DEMO_ARTICLE ?= sec-libya-03

.PHONY: install demo test lint

# The CPU torch first, from this machine's wheel: a bare `torch` requirement would pull a
# multi-GB CUDA build.
install:
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[all]'

demo: install
	newsrec index seeds/articles.jsonl --index-dir $(DEMO_DIR)
	newsrec slots $(DEMO_ARTICLE) --index-dir $(DEMO_DIR)
	newsrec related $(DEMO_ARTICLE) -k 5 --index-dir $(DEMO_DIR)

lint:
	ruff check recommender embeddings service eval tests
	ruff format --check recommender embeddings service eval tests
	mypy

test: install lint
	$(PYTHON) -m pytest
