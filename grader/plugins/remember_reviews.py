"""RememberReviews: what MarkForReview needs to know from before nbgrader's SaveAutoGrades
rewrites the gradebook (which version was graded last time, what the instructor reviewed)."""

from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor

from grader.plugins.cells import course_info
from grader.plugins.paths import Paths
from grader.plugins.reviews import submission_review
from grader.plugins.state import file_sha256, state_entry


class RememberReviews(NbGraderPreprocessor):
    """Before nbgrader's SaveAutoGrades touches the gradebook, remember the submission's version
    (sha256 of the submitted file), the version graded last time (``grading-state.json``) and
    which grades the instructor already reviewed; MarkForReview acts on it."""

    def preprocess(self, nb, resources):
        paths = Paths(self)
        info = resources["nbgrader"]
        meta = course_info(nb)
        try:
            meta["sha256"] = file_sha256(paths.submitted(info["student"], info["assignment"], info["notebook"]))
        except OSError:
            meta["sha256"] = None
        previous = state_entry(paths.root, info["student"], info["assignment"]).get("sha256")
        meta["previous_sha256"] = previous
        meta["reviewed"], meta["previous_review"] = [], []
        if previous is not None and previous == meta["sha256"]:
            with Gradebook(info["db_url"]) as gradebook:
                try:
                    record = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
                except MissingEntry:
                    return nb, resources
                meta["reviewed"] = sorted(g.name for g in record.grades if not g.needs_manual_grade)
                meta["previous_review"] = submission_review(record)[0]
        return nb, resources
