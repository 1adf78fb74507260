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

# The demo clinic's wall clock: a real zone (set KETACLINIC_CLINIC_TIMEZONE to use another).
DEMO_TIMEZONE := $(or $(KETACLINIC_CLINIC_TIMEZONE),America/Chicago)

run: install
	$(BIN)/ketaclinic db upgrade
	KETACLINIC_CLINIC_TIMEZONE=$(DEMO_TIMEZONE) $(BIN)/ketaclinic demo --new-passwords
	KETACLINIC_CLINIC_TIMEZONE=$(DEMO_TIMEZONE) $(BIN)/ketaclinic serve --host 127.0.0.1 --port 8000

test:
	bash scripts/test.sh
