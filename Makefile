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

.PHONY: help setup lab test test-fast check-notebooks bench bench-grading notebooks release formgrader autograde feedback export clean

help:
	@echo "Students:    make lab           open the lessons in JupyterLab (builds .venv/ first if needed)"
	@echo "Developers:  make test          the whole test suite (what CI runs)"
	@echo "             make test-fast     the quick subset (no notebook execution, no nbgrader, no browser)"
	@echo "             make check-notebooks  run every solution notebook; print time and peak memory"
	@echo "             make bench         reference GPT-2 vs Hugging Face speed"
	@echo "             make bench-grading grade 200 made-up lesson-35 submissions (STUDENTS=N, JOBS=N); ~15 min"
	@echo "             make notebooks     rebuild grader/source/ from grader/lessons/<lesson>/"
	@echo "Instructors: make release       generate the student notebooks into lessons/"
	@echo "             make formgrader    JupyterLab with nbgrader's Formgrader for this course (instructors)"
	@echo "             make autograde     grade new or changed grader/submitted/<student>/<lesson>/ (FORCE=1: all; JOBS=N at once)"
	@echo "             make feedback      HTML feedback under grader/feedback/"
	@echo "             make export        grades to grader/grades.csv"

# bootstrap.py reinstalls only when requirements*.txt or pyproject.toml changed since the last setup.
setup:
	$(PYTHON) -m bootstrap setup

lab:
	$(PYTHON) -m bootstrap lab

test:
	$(PYTHON) -m bootstrap test

test-fast:
	$(PYTHON) -m bootstrap test-fast

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

clean:
	rm -rf build .pytest_cache
