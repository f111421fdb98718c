# The README's set-up commands. A fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/monitor run

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check monitor tests benchmarks
	$(BIN)/mypy --strict monitor

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]' || echo "trafilatura not installable: benchmarks run without it"
	$(BIN)/python -m pip install --quiet -e '.[bench-reference]' || echo "resiliparse not installable: eval_generic runs without the compiled reference"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
