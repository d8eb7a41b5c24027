# gpt2-course: every target runs inside .venv/ (built by `make setup` from requirements*.txt).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
# nbgrader shells out to `alembic`, and Jupyter finds kernels through PATH: the venv comes first.
export PATH := $(VENV)/bin:$(PATH)
STAMP := $(VENV)/.installed
LESSON ?=
STUDENT ?=

.PHONY: help setup lab test test-fast check-notebooks bench notebooks release autograde feedback export clean

help:
	@echo "Students:    make lab           open the lessons in JupyterLab (builds .venv/ first if needed)"
	@echo "Developers:  make test          the whole test suite (what CI runs)"
	@echo "             make test-fast     the quick subset (no notebook execution, no nbgrader, no browser)"
	@echo "             make check-notebooks  run every solution notebook; print time and peak memory"
	@echo "             make bench         reference GPT-2 vs Hugging Face speed"
	@echo "             make notebooks     rebuild instructor notebooks from grader/authoring/*.py"
	@echo "Instructors: make release       generate the student notebooks into lessons/"
	@echo "             make autograde     grade everything under grader/submitted/<student>/<lesson>/"
	@echo "             make feedback      HTML feedback under grader/feedback/"
	@echo "             make export        grades to grader/grades.csv"

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements-dev.txt -e .
	$(PY) -m course.offline_tokenizer install
	touch $(STAMP)

setup: $(STAMP)

# (root, e.g. in a container, must say so explicitly to Jupyter)
lab: setup
	$(VENV)/bin/jupyter lab --notebook-dir=lessons $(if $(filter 0,$(shell id -u)),--allow-root)

test: setup
	$(PY) -m pytest -n auto

test-fast: setup
	$(PY) -m pytest -m "not slow and not browser"

check-notebooks: setup
	$(PY) -m grader.check_notebooks $(LESSON)

bench: setup
	$(PY) -m bench.run

notebooks: setup
	$(PY) -m grader.build $(LESSON)

release: setup
	$(PY) -m grader.commands release $(LESSON)

autograde: setup
	$(PY) -m grader.commands autograde $(LESSON)

feedback: setup
	$(PY) -m grader.commands feedback $(LESSON)

export: setup
	$(PY) -m grader.commands export

clean:
	rm -rf build .pytest_cache
