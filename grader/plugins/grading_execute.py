"""GradingExecute: nbgrader's Execute in the course's sandbox, where a run that goes wrong says
so (NEEDS REVIEW) instead of ending as silent zeros; then the post quiz is scored and the outside
check (``outside_check``) confirms the tests that passed, both outside the kernel."""

from __future__ import annotations

import asyncio
import time
from queue import Empty
from time import monotonic

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from traitlets import Integer, Unicode

from grader import sandbox
from grader.build import POST_QUIZ_ID
from grader.plugins.cells import cell_label, content_bytes, course_info, error_output, is_grade, nbgrader_of
from grader.plugins.execution_cache import execution_key, load_execution, save_execution, workers_running
from grader.plugins.outside_check import check_from_outside, prepare_outside_check
from grader.plugins.paths import Paths
from grader.plugins.reviews import (
    KERNEL_DIED,
    MALFORMED,
    NOT_RUN,
    OUTPUT_LIMIT,
    POST_QUIZ_KEY,
    UNINTERRUPTIBLE,
    add_review,
)
from grader.plugins.state import read_verdict
from grader.sandbox.kernel import SandboxedExecute
from grader.trusted import post_quiz


class GradingExecute(SandboxedExecute):
    """nbgrader's Execute in the course's sandbox (``SandboxedExecute``, ``grader/sandbox/kernel.py``),
    except that a run that goes wrong says so instead of ending as silent zeros:

    - a test cell that did not run (the kernel died, or could not be interrupted after a
      timeout, or never started) gets an error output, so it scores 0 and never the full
      points nbgrader gives a test cell without output;
    - a kernel that dies stops the run: ``NEEDS REVIEW (kernel died)``;
    - a cell that runs past the timeout is interrupted (its test scores 0) and grading goes
      on; if the kernel ignores the interrupt (a loop that catches KeyboardInterrupt) and does
      not answer within ``probe_timeout`` seconds, the run stops:
      ``NEEDS REVIEW (kernel could not be interrupted)``;
    - an ungradable submission (RestoreFromSource) is not run at all;
    - the graded post quiz cell (``post_quiz``, added by ``grader.build``) is scored here, after
      the kernel, from the submitted ``quiz-answers.json`` and the instructor's key
      (``grader/trusted/post_quiz.py``): its outputs are replaced, whatever the kernel printed there.
    """

    probe_timeout = Integer(
        10, help="Seconds a kernel that timed out gets, after the interrupt, to answer a probe."
    ).tag(config=True)
    save_dir = Unicode(
        "", help="Worker mode (grader.orchestration.parallel): also save each executed notebook and its sandbox "
                 "verdict under this folder, keyed by what was run."
    ).tag(config=True)
    reuse_dir = Unicode(
        "", help="Take the run of a notebook from this folder (filled by grader.orchestration.parallel's workers) "
                 "when it ran exactly these cells; run it here otherwise."
    ).tag(config=True)
    reuse_wait = Unicode(
        "", help="With reuse_dir: while this file exists and the process whose PID it holds is alive "
                 "(grader.orchestration.parallel: the workers are still running), wait for a worker's run of the "
                 "notebook instead of running it here."
    ).tag(config=True)

    max_cell_output_bytes = Integer(
        512 * 1024, help="Bytes of output one cell may keep (text, images); the rest is dropped as it "
                         "arrives, with a note. Error outputs are always kept (cut short)."
    ).tag(config=True)
    max_output_bytes = Integer(
        4 * 2**20, help="Bytes of output the whole notebook may keep (PrairieLearn caps a grading result at 1 MB)."
    ).tag(config=True)

    def preprocess(self, nb, resources, km=None):
        info = resources.get("nbgrader", {})
        key = execution_key(nb)
        if self.reuse_dir:
            if (done := self._worker_run(info, key)) is not None:
                self.log.info("%s / %s: run by a worker; its outputs are used", info["student"], info["notebook"])
                nb, resources = self._reuse(nb, resources, *done)
                self._score_post_quiz(nb, resources)
                return nb, resources
            self.log.warning("%s / %s: no worker ran these cells; running them here", info["student"], info["notebook"])
        self._timing = {"started": monotonic(), "first_cell": None, "cells_s": []}
        nb, resources = self._run(nb, resources, km)
        self._score_post_quiz(nb, resources)
        if self.save_dir:
            verdict = read_verdict(Paths(self).autograded(info["student"], info["assignment"]),
                                   course_info(nb).get("run_started"))
            save_execution(self.save_dir, info, key, nb, verdict, self._timings())
        return nb, resources

    # --- a worker's run instead of one here (grader.orchestration.parallel) --------------------------------------

    def _worker_run(self, info: dict, key: str):
        """A worker's run of these very cells (``load_execution``), waiting for it while the
        workers are at work; None once they are done without it."""
        while self.reuse_wait and workers_running(self.reuse_wait):
            if (done := load_execution(self.reuse_dir, info, key)) is not None:
                return done
            time.sleep(0.2)
        return load_execution(self.reuse_dir, info, key)  # one last look: it may have landed just now

    def _reuse(self, nb, resources, executed, verdict):
        """Take outputs, execution counts and the run's own review reasons from a worker's run."""
        info = resources["nbgrader"]
        for cell, ran in zip(nb.cells, executed.cells):
            if cell.cell_type == "code":
                cell.outputs = ran.get("outputs", [])
                cell.execution_count = ran.get("execution_count")
        meta, ran_meta = course_info(nb), course_info(executed)
        for reason, detail in ran_meta.get("review", []):
            add_review(nb, reason, detail)
        for key in ("outside_checked", "outside_check"):
            if key in ran_meta:
                meta[key] = ran_meta[key]
        meta["run_started"] = time.time()
        if verdict is not None:  # where MarkForReview looks for it
            target = sandbox.verdict_path(Paths(self).autograded(info["student"], info["assignment"]))
            target.parent.mkdir(parents=True, exist_ok=True)
            sandbox.write_json(target, verdict)
        return nb, resources

    def _timings(self) -> dict:
        """Where the time of the last run went (seconds): sandbox and kernel start, each code cell,
        shutting the kernel down, the outside check (``grader.trusted``)."""
        timing, now = self._timing, monotonic()
        first = timing["first_cell"] if timing["first_cell"] is not None else now
        cells = timing["cells_s"]
        outside = timing.get("outside_s", 0.0)
        return {"start_s": round(first - timing["started"], 3), "cells_s": [round(t, 3) for t in cells],
                "end_s": round(now - first - sum(cells) - outside, 3), "outside_s": round(outside, 3),
                "total_s": round(now - timing["started"], 3)}

    # --- after the kernel: the post quiz --------------------------------------------------------------

    def _score_post_quiz(self, nb, resources) -> None:
        """The graded post quiz (``grader/trusted/post_quiz.py``): scored here, on the trusted side, from
        the answers file handed in with the submission and the instructor's key; whatever the
        kernel printed in that cell is replaced. Also for a run that stopped early: the score
        does not depend on the kernel."""
        info = resources.get("nbgrader", {})
        paths = Paths(self)
        for cell in nb.cells:
            if cell.cell_type != "code" or not is_grade(cell) or nbgrader_of(cell).get("grade_id") != POST_QUIZ_ID:
                continue
            submitted = paths.submitted(info["student"], info["assignment"], info["notebook"]).parent
            try:
                problem = post_quiz.score_cell(cell, paths.root, info["assignment"], submitted)
            except Exception as exc:  # noqa: BLE001 (the scoring itself failed: 0 and a human decides)
                cell.outputs = [error_output("PostQuizNotScored", f"the post quiz could not be scored ({exc})")]
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                self.log.error("%s / %s: post quiz: %s", info["student"], info["notebook"], problem)
                add_review(nb, POST_QUIZ_KEY, problem[:500])

    # --- the run ------------------------------------------------------------------------------------

    def _run(self, nb, resources, km=None):
        """Run the notebook (not an ungradable one), give every test cell that did not run an
        error output, say why the run stopped or lost output, then the outside check."""
        meta = course_info(nb)
        self._stop: tuple[str, str] | None = None
        self._settled: set[int] = set()
        self._output_bytes, self._cell_output_bytes, self._dropped_bytes, self._dropped_cells = 0, 0, 0, []
        outside = None
        if meta.get("ungradable"):
            self._stop = (MALFORMED, "the submission could not be read")
        else:
            nb, resources, outside = self._execute(nb, resources, km)
        for index, cell in enumerate(nb.cells):
            if index not in self._settled and is_grade(cell):
                self._not_run(cell)
        if self._stop is not None and self._stop[0] != MALFORMED:
            add_review(nb, *self._stop)
        if self._dropped_cells:
            add_review(nb, OUTPUT_LIMIT, f"{self._dropped_bytes} bytes of output were not kept (cells "
                       f"{', '.join(str(i + 1) for i in self._dropped_cells[:20])}); limits: "
                       f"{self.max_cell_output_bytes} bytes a cell, {self.max_output_bytes} a notebook")
        if not meta.get("ungradable"):
            checked_from = monotonic()
            check_from_outside(self, nb, resources, outside)
            if getattr(self, "_timing", None) is not None:
                self._timing["outside_s"] = monotonic() - checked_from
        return nb, resources

    def _execute(self, nb, resources, km):
        """The kernel's run (``SandboxedExecute``): (nb, resources, what the outside check will
        run: ``prepare_outside_check``'s result, or the exception it raised). A kernel that dies
        or cannot start stops the run."""
        course_info(nb)["run_started"] = time.time()
        try:
            outside = prepare_outside_check(self, nb, resources)
        except Exception as exc:  # noqa: BLE001 (e.g. a broken grading.py: a human decides)
            outside = exc
        try:
            nb, resources = super().preprocess(nb, resources, km=km)
        except DeadKernelError:
            self._halt(KERNEL_DIED, "the kernel died before the notebook could run")
        except Exception as exc:  # noqa: BLE001 (e.g. a kernel that cannot start)
            self.log.error("cannot run the notebook: %s", exc)
            self._halt(NOT_RUN, f"{type(exc).__name__}: {str(exc)[:300]}")
        return nb, resources, outside

    def _halt(self, reason: str, detail: str) -> None:
        if self._stop is None:
            self._stop = (reason, detail)

    def _not_run(self, cell) -> None:
        reason = self._stop[1] if self._stop else "not run"
        cell.outputs = [error_output("NotRun", f"this test did not run: {reason}")]

    def preprocess_cell(self, cell, resources, index):
        if self._stop is not None:
            if is_grade(cell):
                self._not_run(cell)
            self._settled.add(index)
            return cell, resources
        if cell.cell_type == "code" and is_grade(cell) and not cell.source.strip():
            cell.outputs = [error_output("EmptyTestCell", "this test cell has no code")]
            self._settled.add(index)
            return cell, resources
        if cell.cell_type == "code":
            timing = getattr(self, "_timing", None)
            if timing is not None and timing["first_cell"] is None:
                timing["first_cell"] = monotonic()
            ran_from = monotonic()
            try:
                return self._run_cell(cell, resources, index)
            finally:
                if timing is not None:
                    timing["cells_s"].append(monotonic() - ran_from)
        return self._run_cell(cell, resources, index)

    # --- outputs, bounded by bytes as they arrive --------------------------------------------

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's handler of one output message, with a byte budget per cell and notebook:
        what does not fit is dropped before it is stored (a stream is cut to fit), and the cell
        gets a note. An error output is always kept, cut short: it is what makes a test score 0."""
        content = msg.get("content") or {}
        if msg.get("msg_type") == "error":
            content["evalue"] = str(content.get("evalue", ""))[:2000]
            content["traceback"] = [str(line)[:2000] for line in (content.get("traceback") or [])[-30:]]
            return super().output(outs, msg, display_id, cell_index)
        size = content_bytes(content)
        room = min(self.max_cell_output_bytes - self._cell_output_bytes, self.max_output_bytes - self._output_bytes)
        if size > room:
            kept = max(0, room) if msg.get("msg_type") == "stream" else 0
            self._drop(cell_index, size - kept)
            if not kept:
                return None
            content["text"] = str(content.get("text", ""))[:kept]
            size = kept
        self._cell_output_bytes += size
        self._output_bytes += size
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id, msg):
        if content_bytes(msg.get("content") or {}) > self.max_cell_output_bytes:
            self._drop(None, content_bytes(msg.get("content") or {}))
            return None
        return super()._update_display_id(display_id, msg)

    _output_bytes = _cell_output_bytes = _dropped_bytes = 0
    _dropped_cells: tuple = ()

    def _drop(self, cell_index, size: int) -> None:
        self._dropped_bytes += size
        if cell_index is not None and cell_index not in self._dropped_cells:
            self._dropped_cells = [*self._dropped_cells, cell_index]

    # --- one cell: a dead kernel, a timeout -----------------------------------------------------------

    def _run_cell(self, cell, resources, index):
        self._cell_output_bytes = 0
        try:
            return self._run_cell_bounded(cell, resources, index)
        finally:
            if index in self._dropped_cells:
                cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                    "stream", name="stdout", text=f"\n[output truncated: this cell printed more than the "
                    f"{self.max_cell_output_bytes} bytes a cell (or {self.max_output_bytes} a notebook) keeps "
                    "when graded]\n"))

    def _run_cell_bounded(self, cell, resources, index):
        first_line = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
        where = (f"cell {cell_label(cell)!r}" if nbgrader_of(cell) else
                 f"the code cell that starts {first_line[:60]!r}")
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cell.setdefault("outputs", []).append(error_output("DeadKernelError", "the kernel died running this cell"))
            self._halt(KERNEL_DIED, f"the kernel died while running {where}; the cells after it did not run")
        except CellTimeoutError:
            # The cell ran past the timeout and, interrupted, did not finish within iopub_timeout.
            cell.setdefault("outputs", []).append(error_output(
                "CellTimeoutError", f"no reply within {self.timeout} s and the interrupt did not stop it"))
            if not self._kernel_answers():
                self._halt(UNINTERRUPTIBLE, f"{where} ran past the {self.timeout} s limit and ignored the "
                                            "interrupt; the cells after it did not run")
        self._settled.add(index)
        return cell, resources

    async def _async_kernel_answers(self) -> bool:
        # nbclient leaves the interrupted cell's output poller running when it gives up on it;
        # it would swallow the next cells' outputs: stop it.
        current = asyncio.current_task()
        for task in asyncio.all_tasks():
            if task is not current and "_async_poll_output_msg" in getattr(task.get_coro(), "__qualname__", ""):
                task.cancel()
        if self.kc is None or self.km is None or not await ensure_async(self.km.is_alive()):
            return False
        msg_id = await ensure_async(self.kc.execute("pass", silent=True, store_history=False))
        deadline = monotonic() + self.probe_timeout
        while (remaining := deadline - monotonic()) > 0:
            try:
                msg = await ensure_async(self.kc.shell_channel.get_msg(timeout=remaining))
            except Empty:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return True
        return False

    _kernel_answers = run_sync(_async_kernel_answers)
