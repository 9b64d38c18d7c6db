# Two commands on a fresh machine:
#   make lab    create .venv if missing, then open JupyterLab on lessons/
#   make test   create .venv if missing, then lint and run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: lab test lint format browser benchmark clean-venv

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -c "import nnkit, autograder, nbgrader, jupyterlab, torch"
	$(BIN)/python -m autograder.setup_jupyter
	@touch $(STAMP)

# Jupyter refuses to start as root without --allow-root (containers, fresh VMs); LAB_ARGS adds options.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS  ?=

lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=lessons $(ROOT_FLAG) $(LAB_ARGS)

# Chromium drives the real-browser widget test; installed from Debian's packages when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v /usr/bin/chromium >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	    else echo "chromium is missing: sudo apt-get install chromium chromium-driver" >&2; exit 1; fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: $(STAMP) browser lint
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_mlp_step.py

clean-venv:
	rm -rf $(VENV)
