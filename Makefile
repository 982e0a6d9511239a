# One command per job. Every target sets up what it needs itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test lint format bench fuzz demo clean

$(STAMP): pyproject.toml .ci/ensure-mariadb.sh
	PYTHON=$(PYTHON) ./.ci/ensure-mariadb.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,mariadb]'
	touch $(STAMP)

## test: lint, format check and the whole test suite (the one test command)
test: $(STAMP)
	PYTHON=$(PYTHON) ./.ci/ensure-mariadb.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

## lint/format: ruff, as CI runs it / rewriting files
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: every benchmark, one table each
bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
