# gpt2-course: every target runs inside .venv/. `setup`, `lab`, `test` and `test-fast` are
# `python -m bootstrap ...` (bootstrap.py), which Windows users without make run directly.
SHELL := /bin/bash
# Any Python 3.11-3.13 works; 3.11 first because CI and Binder run it (bootstrap.py checks the version).
# Resolved once, before the venv is put on PATH, so the venv's own python is never picked.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3 || echo python3)
endif
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
# nbgrader shells out to `alembic`, and Jupyter finds kernels through PATH: the venv comes first.
export PATH := $(VENV)/bin:$(PATH)
LESSON ?=
STUDENT ?=

.PHONY: help setup lab test test-fast lint check-notebooks bench bench-grading notebooks release formgrader autograde feedback export clean

help:
	@echo "Students:    make lab           open the lessons in JupyterLab (builds .venv/ first if needed)"
	@echo "Developers:  make test          the whole test suite (what CI runs)"
	@echo "             make test-fast     the quick subset (no notebook execution, no nbgrader, no browser)"
	@echo "             make lint          ruff, configured in pyproject.toml (make test runs it too)"
	@echo "             make check-notebooks  run every solution notebook; print time and peak memory"
	@echo "             make bench         reference GPT-2 vs Hugging Face speed"
	@echo "             make bench-grading grade 200 made-up lesson-35 submissions (STUDENTS=N, JOBS=N); ~9 min on 2 cores"
	@echo "             make notebooks     rebuild nbgrader-course/source/ from grader/lessons/<lesson>/"
	@echo "Instructors: make release       generate the student notebooks into lessons/"
	@echo "             make formgrader    JupyterLab with nbgrader's Formgrader for this course (instructors)"
	@echo "             make autograde     grade new or changed nbgrader-course/submitted/<student>/<lesson>/ (FORCE=1: all; JOBS=N at once)"
	@echo "             make feedback      HTML feedback under nbgrader-course/feedback/"
	@echo "             make export        grades to nbgrader-course/grades.csv"
	@echo "             make zip-collect ZIP=f.zip LESSON=..   LMS export (Canvas; LMS=moodle) -> nbgrader-course/submitted/"
	@echo "Class (root): make hub [ROSTER=class.csv]   JupyterHub on 127.0.0.1:8000 (accounts from the CSV first)"
	@echo "             make hub-start [ROSTER=class.csv] / hub-stop   the same in the background / stop it"
	@echo "             make hub-users ROSTER=class.csv  create/update the instructor's and students' accounts"
	@echo "             make hub-release LESSON=..  /  hub-collect  /  hub-autograde  /  hub-feedback"

# bootstrap.py reinstalls only when requirements*.txt or pyproject.toml changed since the last setup.
setup:
	$(PYTHON) -m bootstrap setup

lab:
	$(PYTHON) -m bootstrap lab

test:
	$(PYTHON) -m bootstrap test

test-fast:
	$(PYTHON) -m bootstrap test-fast

lint: setup
	$(PY) -m ruff check .

# MEMORY_LIMIT=2G: an idle JupyterLab server + each kernel in one cgroup with that memory, as on Binder (root, Linux)
check-notebooks: setup
	$(PY) -m grader.check_notebooks $(if $(MEMORY_LIMIT),--memory-limit $(MEMORY_LIMIT)) $(LESSON)

bench: setup
	$(PY) -m bench.run

bench-grading: setup
	$(PY) -m bench.grading $(if $(STUDENTS),--students $(STUDENTS)) $(if $(JOBS),--jobs $(JOBS))

notebooks: setup
	$(PY) -m grader.build $(LESSON)

release: setup
	$(PY) -m grader.commands release $(LESSON)

formgrader: setup
	$(PY) -m grader.formgrader

autograde: setup
	$(PY) -m grader.commands autograde $(if $(FORCE),--force) $(if $(JOBS),--jobs $(JOBS)) $(LESSON)

feedback: setup
	$(PY) -m grader.commands feedback $(LESSON)

export: setup
	$(PY) -m grader.commands export

# --- a class on JupyterHub (hub/): run as root on the class's machine -----------------------
.PHONY: hub hub-proxy hub-env hub-users hub-start hub-stop hub-release hub-collect hub-autograde hub-feedback zip-collect
HUB_STATE ?= /srv/gpt2-course
HUB := $(PY) -m hub

hub-proxy: setup
	$(HUB).proxy

hub-env: setup
	$(HUB).env

hub-users: setup
	@test -n "$(ROSTER)" || { echo "usage: make hub-users ROSTER=class.csv"; exit 2; }
	$(HUB).roster $(ROSTER) --state-dir $(HUB_STATE)

# One command after `make setup`: the proxy (npm), the students' environment, the accounts
# (when ROSTER= is given), then JupyterHub in the foreground; Ctrl-C stops all it started.
hub: hub-proxy hub-env
	$(if $(ROSTER),$(HUB).roster $(ROSTER) --state-dir $(HUB_STATE))
	$(HUB).run serve --state-dir $(HUB_STATE) $(HUB_ARGS)

hub-start: hub-proxy hub-env
	$(if $(ROSTER),$(HUB).roster $(ROSTER) --state-dir $(HUB_STATE))
	$(HUB).run start --state-dir $(HUB_STATE) $(HUB_ARGS)

hub-stop:
	$(HUB).run stop --state-dir $(HUB_STATE)

hub-release hub-collect hub-autograde hub-feedback: setup
	@test -n "$(LESSON)" || { echo "usage: make $@ LESSON=35-gpt-model-assembly"; exit 2; }
	$(HUB).course $(subst hub-,,$@) $(LESSON) --state-dir $(HUB_STATE)

zip-collect: setup
	@test -n "$(ZIP)" -a -n "$(LESSON)" || { echo "usage: make zip-collect ZIP=submissions.zip LESSON=<lesson> [LMS=moodle] [MAP=roster.csv]"; exit 2; }
	$(PY) -m hub.zip_collect $(ZIP) $(LESSON) $(if $(LMS),--lms $(LMS)) $(if $(MAP),--map $(MAP))

clean:
	rm -rf build .pytest_cache
