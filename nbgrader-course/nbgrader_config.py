"""nbgrader configuration of the gpt2-course course (course root: the folder of this file's copy).

Edit this file, ``grader/nbgrader_config.py``. nbgrader reads ``nbgrader_config.py`` in its
working directory, the course root, which is ``nbgrader-course/`` at the repository root (not
this package: nbgrader's data never lives in ``grader/``). So the course root holds a copy of
this file, byte for byte: ``python -m grader.build`` (``make notebooks``) and ``make release``
write it, ``grader.commands`` refreshes it before each nbgrader command, and
``python -m grader.build --check`` reports it out of date. A scratch course root (tests,
benchmarks, the parallel workers) gets a copy the same way. Every copy takes the folder it sits
in as the course root (``HERE`` below) and keeps the gradebook there.

Run nbgrader from the course root (``make release / autograde / feedback / export`` do).
"""

import os
import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

# The grader package is instructor-only and not installed: reach it from the repository
# (the parent of the folder of this file's copy, or GPT2_COURSE_REPO for a course root elsewhere). Only this
# nbgrader process gets the path; the kernels it starts for submissions do not.
_REPO = os.environ.get("GPT2_COURSE_REPO") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from grader.plugins import (  # noqa: E402
    CODE_STUB,
    GradingExecute,
    HideHiddenTests,
    MarkForReview,
    RememberReviews,
    RestoreFromSource,
    SkipDemoCells,
    StderrIsNotFailure,
    TolerantNotebookExporter,
)

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

# nbgrader's own gradebook code trips SQLAlchemy's session warnings on every submission it
# grades ("Object of type <SubmittedNotebook> not in session"): noise, not the instructor's concern.
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w+> not in session")

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "gpt2-course"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
# Files never copied from source/ into releases or autograded folders (nor by `nbgrader collect`).
# quiz-answers.json must NOT be here: it holds the graded post quiz's answers, and collect must
# bring it in with the notebook (grader/trusted/post_quiz.py scores it; `make release` removes one from
# source/ so that it is never released).
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "quiz-progress.jsonl",
    "*.quiz-progress.jsonl",
]

# Executing submissions: model cells can be slow on a laptop, so give each cell minutes,
# not nbgrader's default 30 s. A cell that runs past the limit is interrupted, gets the
# error "CellTimeoutError", and the rest of the notebook still runs (that part scores 0).
c.Execute.timeout = int(os.environ.get("GPT2_COURSE_CELL_TIMEOUT", "300"))
c.Execute.interrupt_on_timeout = True
# After the last cell nothing in the kernel matters: kill it at once (its sandbox's cgroup takes
# every process with it) instead of a graceful shutdown, which cost ~2.4 s per notebook.
c.Execute.shutdown_kernel = "immediate"

# Students who delete, retype, copy or re-tag a graded cell get it back from the source:
# RestoreFromSource rebuilds every submission from the source notebook first (grade ids,
# points, flags, tags and test cells are the source's; see grader/plugins/restore_from_source.py), and a
# notebook nbformat cannot read becomes an ungradable submission (NEEDS REVIEW), not a crash.
c.OverwriteCells.add_missing_cells = True
# The intake gate (grader/sandbox/intake.py) before nbgrader copies anything of a submission: only plain
# files, no link followed, caps on count and bytes (make autograde gates first; this covers a
# plain `nbgrader autograde`). RestoreFromSource holds a submission the gate did not take in.
c.Autograde.pre_convert_hook = "grader.sandbox.intake.nbgrader_hook"
# Formgrader's "Manage Assignments" page would print this whole configuration (debug is on by
# default) and, as it holds classes and functions, log "Formgrader config is not serializable"
# on every visit instead.
c.FormgradeExtension.debug = False
c.Autograde.exporter_class = TolerantNotebookExporter
c.Autograde.sanitize_preprocessors = [
    RestoreFromSource,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
    SkipDemoCells,
    RememberReviews,
]
# Each submission's kernel runs in a sandbox (grader/sandbox/__init__.py: bubblewrap + cgroups; no
# network, no files but its own folder, memory/process limits and a wall clock per notebook).
# It refuses to run without one unless GPT2_COURSE_UNSANDBOXED=1. c.Execute.* settings apply.
# A test cell fails only by raising: a warning printed to stderr must not cost its points.
# GradingExecute is SandboxedExecute that turns a dead or uninterruptible kernel into NEEDS
# REVIEW (and never lets a test cell that did not run score); MarkForReview records that, the
# integrity scan's hold and the graded version (grading-state.json) in the gradebook.
# Nothing a student wrote or printed may run in a grader's browser (grader/plugins/inert.py): right
# after the run, markdown, raw cells and outputs are made inert (error outputs stay as they
# are), and the HTML exports (feedback; Formgrader, which reads this file too) sanitize again.
from grader.plugins.inert import EXPORT_FILTERS, InertStudentContent  # noqa: E402

c.HTMLExporter.sanitize_html = True
c.HTMLExporter.filters = EXPORT_FILTERS
c.Autograde.autograde_preprocessors = [
    GradingExecute,
    StderrIsNotFailure,
    InertStudentContent,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    MarkForReview,
    CheckCellMetadata,
]
# Feedback shows the student's graded notebook without the hidden tests.
c.GenerateFeedback.preprocessors = [HideHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]

c.ClearSolutions.code_stub = {"python": CODE_STUB}
