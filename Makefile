# One command each: `make demo` and `make test` install what they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EXTRAS ?= train,dev,gcp

.PHONY: install test test-fast test-all demo bench bench-train clean

install: $(STAMP)

# torch first, pinned: 2.13.0 is the local CPU wheel; any other version pulls gigabytes of CUDA packages.
$(STAMP): setup.py transforms/match/_tokenmatch.c transforms/crawl/_gzwarc.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $(STAMP)

# The default suite: unit tests plus the real end-to-end paths; tests marked `slow` run with `make test-all`.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

test-all: $(STAMP)
	$(BIN)/python -m pytest -q tests

demo: $(STAMP)
	$(BIN)/wit demo --output demo_output

bench: $(STAMP)
	$(BIN)/python benchmarks/download.py
	$(BIN)/python benchmarks/match.py
	$(BIN)/python benchmarks/language.py

# The trainer: throughput beside open_clip 3.3.0 (its own venv, made on first use), then the Flickr8k run
# (shards by `wit download`, about 15-20 minutes of CPU training, retrieval on the 1,012 test images).
bench-train: $(STAMP)
	$(BIN)/python benchmarks/train.py
	$(BIN)/python benchmarks/flickr8k.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache build *.egg-info
