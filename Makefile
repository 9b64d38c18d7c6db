# Two commands on a fresh machine:
#   make lab    create .venv (runtime packages only) if missing, copy new lessons into work/,
#               then open JupyterLab on work/
#   make test   add the test extras (PyTorch, Playwright, pytest, ruff), lint, run the tests
# and, for students, `make check NB=work/NN_name/NN_name.ipynb` before submitting.
# For instructors: make lab-instructor (nbgrader's tools on the course).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP  := $(VENV)/.installed
# The student's own copies of the lessons (gitignored): seeded from lessons/, never overwritten.
WORK   ?= work

.PHONY: lab lab-instructor work check test lint format browser benchmark clean-venv

$(RUNTIME_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -c "import nnkit, autograder, nbgrader, jupyterlab"
	$(BIN)/python -m autograder.setup_jupyter
	@touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -c "import torch, playwright, pytest"
	@touch $(STAMP)

# Copies into $(WORK)/ every file of lessons/ it does not have yet; never touches one it has.
work: $(RUNTIME_STAMP)
	$(BIN)/python -m tools.work_folder lessons $(WORK)

# Runs a saved notebook in a fresh kernel, as grading will: make check NB=path/to/NN_name.ipynb
check: $(RUNTIME_STAMP)
	@test -n "$(NB)" || { echo "usage: make check NB=$(WORK)/NN_name/NN_name.ipynb" >&2; exit 2; }
	$(BIN)/python -m autograder check "$(NB)"

# Jupyter refuses to start as root without --allow-root (containers, fresh VMs); LAB_ARGS adds options.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS  ?=

# A role is a Jupyter configuration folder put first on JUPYTER_CONFIG_PATH (course_roles/).
ROLES := $(CURDIR)/course_roles
lab: export JUPYTER_CONFIG_PATH := $(ROLES)/student$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))
lab: $(RUNTIME_STAMP) work
	$(BIN)/jupyter lab --ServerApp.root_dir=$(WORK) $(ROOT_FLAG) $(LAB_ARGS)

# The instructor's JupyterLab: nbgrader's Formgrader, Create Assignment, Validate, on the course.
# The formgrader runs alembic (in .venv/bin) when it makes the gradebook.
lab-instructor: export JUPYTER_CONFIG_PATH := $(ROLES)/instructor$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))
lab-instructor: export PATH := $(CURDIR)/$(BIN):$(PATH)
lab-instructor: $(RUNTIME_STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(ROOT_FLAG) $(LAB_ARGS)

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
