# One command per job. Every target sets up what it needs itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Playwright drives Debian's /usr/bin/chromium: it must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: test test-live lint format bench fuzz demo screenshot clean

$(STAMP): pyproject.toml .ci/ensure-system.sh
	PYTHON=$(PYTHON) ./.ci/ensure-system.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,mariadb,mqtt]'
	touch $(STAMP)

## test: lint, format check and the whole test suite (the one test command)
test: $(STAMP)
	PYTHON=$(PYTHON) ./.ci/ensure-system.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

## test-live: the service installed by the installer under a real systemd, in a booted Debian
## container (root; minutes). DEBIAN=bullseye, bookworm (the default) or trixie.
DEBIAN ?= bookworm
test-live: $(STAMP)
	./.ci/ensure-system.sh live
	TELEINFOREADER_LIVE_DEBIAN=$(DEBIAN) $(BIN)/pytest tests/live -m live -x -s -rA \
		-p no:cacheprovider --timeout=1800

## lint/format: ruff, as CI runs it / rewriting files
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## demo: the whole daemon on a simulated meter (DEMO_PROFILE=standard-tri, ...); Ctrl-C stops it
# It needs neither the dev tools nor MariaDB: only the package, in the same .venv.
DEMO_PROFILE ?= historic-base
DEMO_STAMP   := $(VENV)/.installed-demo

$(DEMO_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	@mkdir -p state
	@sed 's/^profile = .*/profile = "$(DEMO_PROFILE)"/' config/demo.toml > state/demo.toml
	@echo "Simulated $(DEMO_PROFILE) meter -> SQLite in ./state -> JSON lines on 127.0.0.1:50007."
	@echo "Watch the frames from another terminal: $(BIN)/teleinforeader tail"
	@echo "or in a browser: http://127.0.0.1:8080/"
	@echo "Ctrl-C stops the daemon."
	$(BIN)/teleinforeader run --config state/demo.toml

## bench: every benchmark, one table each
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## screenshot: docs/web-page.png, made by the web page's own test in headless Chromium
screenshot: $(STAMP)
	TELEINFOREADER_SCREENSHOT=$(CURDIR)/docs/web-page.png $(BIN)/pytest -q tests/web/test_page.py

## fuzz: the decoder and the configuration loader on random and damaged input, for ten minutes
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.campaign --seconds $(or $(FUZZ_SECONDS),600)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
