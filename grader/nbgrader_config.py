"""nbgrader configuration of the gpt2-course course (course root: this directory).

Run nbgrader from this directory (``make release / autograde / feedback / export`` do).
"""

import os
import sys

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    Execute,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

# The grader package is instructor-only and not installed: reach it from the repository
# (this file's parent, or GPT2_COURSE_REPO for a copy of the course elsewhere). Only this
# nbgrader process gets the path; the kernels it starts for submissions do not.
_REPO = os.environ.get("GPT2_COURSE_REPO") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from grader.preprocessors import SkipDemoCells, StderrIsNotFailure  # noqa: E402

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "gpt2-course"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
# Files never copied from source/ into releases or autograded folders.
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

# Students who delete, retype or re-tag a test cell get it back from the source.
c.OverwriteCells.add_missing_cells = True
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadata,
    SkipDemoCells,
]
# A test cell fails only by raising: a warning printed to stderr must not cost its points.
c.Autograde.autograde_preprocessors = [
    Execute,
    StderrIsNotFailure,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
