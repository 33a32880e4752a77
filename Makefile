# reelay — the two set-up commands are `make dev` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
PYTEST_ARGS ?=
#: Test processes (pytest-xdist); tests/conftest.py says what may run side by side.
PYTEST_JOBS ?= 2
#: Schemathesis's derandomised stateful phase draws other scenarios inside an xdist worker
#: (there it never reaches a moment's creation through links), so it runs as its own
#: pytest process beside the others.
FUZZ := tests/security/test_fuzz.py

.PHONY: dev test lint bench install install-test clean vendor-hls

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

install-test: $(TEST_STAMP)

## make dev: install into .venv and run the whole embedded stack (prints the URL)
dev: $(STAMP)
	$(BIN)/reelay dev

## make test: install test dependencies and run the whole suite
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -p no:randomly $(FUZZ) $(PYTEST_ARGS) & fuzz=$$!; \
	$(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist loadgroup --ignore=$(FUZZ) $(PYTEST_ARGS); \
	rest=$$?; wait $$fuzz; fuzzed=$$?; exit $$(( rest || fuzzed ))

## make lint: ruff and mypy --strict, as configured in pyproject.toml
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## make bench: the benchmarks under bench/, each printing ratios against a reference
bench: $(TEST_STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

## make vendor-hls: refresh static/vendor/hls.js (the page's HLS player) from the npm registry
HLS_VERSION ?= 1.7.4
HLS_DIR := static/vendor/hls.js
vendor-hls:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	npm pack --silent --pack-destination "$$tmp" hls.js@$(HLS_VERSION) >/dev/null && \
	tar -xzf "$$tmp/hls.js-$(HLS_VERSION).tgz" -C "$$tmp" && \
	mkdir -p $(HLS_DIR) && \
	cp "$$tmp/package/dist/hls.light.min.mjs" "$$tmp/package/LICENSE" $(HLS_DIR)/ && \
	printf '%s\n' \
	  '# hls.js $(HLS_VERSION) (vendored)' '' \
	  'VERSION $(HLS_VERSION)' '' \
	  '`hls.light.min.mjs` and `LICENSE` (Apache-2.0) are copied unchanged from the npm' \
	  'package `hls.js@$(HLS_VERSION)` (`dist/hls.light.min.mjs`), https://github.com/video-dev/hls.js.' \
	  'The light build plays MPEG-TS with H.264 and AAC; it leaves out subtitles, alternate' \
	  'audio and EME, which the preview does not use. `static/views/preview.js` imports it as an' \
	  'ES module. Refresh with `make vendor-hls HLS_VERSION=x.y.z`.' \
	  > $(HLS_DIR)/README.md && \
	echo "hls.js $(HLS_VERSION) → $(HLS_DIR)"

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
