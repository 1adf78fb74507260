# The two commands in the README. Everything else is detail.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/ketaclinic db upgrade
	$(BIN)/ketaclinic demo --new-passwords
	$(BIN)/ketaclinic serve --host 127.0.0.1 --port 8000

test:
	bash scripts/test.sh
