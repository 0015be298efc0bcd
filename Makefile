# medcodes: `make run` installs, serves, and builds the default index behind the server if missing or stale;
# `make test` runs the test suite. Everything is installed into .venv by these targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pip's global config on some machines names index folders that do not exist; hide only that noise.
QUIET_PIP := grep -v "is ignored: it is neither a file nor a directory" || true
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run install install-test build serve test test-fast lint eval bench loadtest model ranker calibrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: it is the CPU wheel on disk; letting sentence-transformers pull torch brings a CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --disable-pip-version-check -q torch==2.13.0 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install --disable-pip-version-check -q -e . 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import torch, sentence_transformers, faiss; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --disable-pip-version-check -q -e '.[test]' 2>&1 | $(QUIET_PIP)
	bash scripts/install-browser.sh
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

build: install
	$(BIN)/medcodes build --if-stale

serve: install
	$(BIN)/medcodes serve

# First run: a words-only first stage in a minute or two, served at once, while the full index builds in the
# background (log: data/index.build.log); the server switches to semantic search by itself when it lands.
run: install
	$(BIN)/medcodes serve --build-if-stale

# ruff (style, import order) and mypy (strict on embeddings/index and service/search) are part of the test.
lint: install-test
	$(BIN)/ruff check embeddings service tests
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

# The inner loop: stub encoder and fixture index only; no browser, no real model, no notebooks.
test-fast: install-test
	$(BIN)/python -m pytest -q -m "not browser and not model and not slow" -x

eval: install-test build
	$(BIN)/medcodes evaluate

bench: install-test build
	$(BIN)/python -m service.perf.bench --rebuild --first-stage

loadtest: install-test build
	$(BIN)/python -m service.perf.loadtest $(ARGS)

# The domain-adapted encoder (see README, "The model"); about 9 minutes on two cores, never part of `make run`.
# Every code and query text of the evaluation and ranker-training sets is written to data/model/excluded.tsv and
# left out of training; the int8-packed copy goes to data/model/medcodes-minilm-int8.
model: install build
	$(BIN)/python -m service.evaluation.exclusions
	$(BIN)/python -m embeddings.training.train

# The learned ranking stage (service/search/ranker.json): trained on query sets drawn apart from the evaluation
# ones, held out of the held-out index like them; a few minutes. `make eval` then reports it against RRF.
# ARGS="--model trees" fits LightGBM lambdarank instead of the linear model, ARGS="--model blend" both added
# (each measured, neither the default).
ranker: install-test build
	$(BIN)/python -m service.evaluation.learn $(ARGS)

# The best-match confidence (/api/autocode, search --best): fitted on half the lay queries, measured on the rest.
calibrate: install-test build
	$(BIN)/python -m service.evaluation.calibrate

clean:
	rm -rf $(VENV) data/index data/index.builds data/index.lock
