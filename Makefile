# Two commands on a fresh machine:
#   make lab    create .venv (runtime packages only) if missing, copy new lessons into work/,
#               then open JupyterLab on work/
#   make test   add the test extras (PyTorch, Playwright, pytest, ruff), lint, run the tests
# and, for students, `make check NB=work/NN_name/NN_name.ipynb` before submitting.
# For instructors: make lab-instructor (nbgrader's tools on the course), make hub ROSTER=... (a
# class on JupyterHub, as root).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP  := $(VENV)/.installed
LAB_SETTINGS  := $(VENV)/.lab-settings
# The student's own copies of the lessons (gitignored): seeded from lessons/, never overwritten.
WORK   ?= work

.PHONY: lab lab-instructor hub hub-runtime work check test lint format browser benchmark clean-venv

$(RUNTIME_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -c "import nnkit, autograder, nbgrader, jupyterlab"
	@touch $(RUNTIME_STAMP)

# The environment's JupyterLab settings (no news pop-up, the Course menu), again whenever the
# course changes them: a `git pull` that edits lab_overrides.json reaches an existing .venv.
$(LAB_SETTINGS): $(RUNTIME_STAMP) course_roles/lab_overrides.json
	$(BIN)/python -m autograder.setup_jupyter
	@touch $(LAB_SETTINGS)

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
lab: $(LAB_SETTINGS) work
	$(BIN)/jupyter lab --ServerApp.root_dir=$(WORK) $(ROOT_FLAG) $(LAB_ARGS)

# The instructor's JupyterLab: nbgrader's Formgrader, Create Assignment, Validate, on the course.
# The formgrader runs alembic (in .venv/bin) when it makes the gradebook.
lab-instructor: export JUPYTER_CONFIG_PATH := $(ROLES)/instructor$(if $(JUPYTER_CONFIG_PATH),:$(JUPYTER_CONFIG_PATH))
lab-instructor: export PATH := $(CURDIR)/$(BIN):$(PATH)
lab-instructor: $(LAB_SETTINGS)
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(ROOT_FLAG) $(LAB_ARGS)

# A class on JupyterHub (as root; README "A class on a JupyterHub server"). The hub's own code
# needs only Python >= 3.11, not .venv.
HUB_SETTINGS ?= deploy/hub/hub.toml
hub:
	@test -n "$(ROSTER)" || { echo "usage: make hub ROSTER=roster.csv [HUB_SETTINGS=deploy/hub/hub.toml]" >&2; exit 2; }
	$(PYTHON) -m deploy.hub --settings "$(HUB_SETTINGS)" setup --roster "$(ROSTER)"
	$(PYTHON) -m deploy.hub --settings "$(HUB_SETTINGS)" start

# The hub's runtime under /opt, which the end-to-end hub test uses (root only; others skip it).
hub-runtime:
	@if [ "$$(id -u)" = 0 ]; then $(PYTHON) -m deploy.hub --settings "$(HUB_SETTINGS)" install; \
	else echo "hub-runtime: not root, so the class-hub test will be skipped"; fi

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

test: $(STAMP) $(LAB_SETTINGS) browser hub-runtime lint
	$(BIN)/python -m pytest

benchmark: $(STAMP)
	$(BIN)/python benchmarks/bench_mlp_step.py

clean-venv:
	rm -rf $(VENV)
