"""grader.trusted: the verdict from outside the student's process (attacks first, then the defence)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from grader import catalog, sandbox, trusted
from grader.sandbox import settings as sandbox_settings

from .conftest import FIXTURE, SLUG

TOY = FIXTURE / "lessons" / SLUG
LESSON_35 = catalog.lesson_dir("35-gpt-model-assembly")
needs_sandbox = pytest.mark.skipif(sandbox.unavailable_reason() is not None,
                                   reason=f"no sandbox here: {sandbox.unavailable_reason()}")


def toy():
    return trusted.load_probes(TOY)


# --- judging values (no sandbox) -------------------------------------------------------------------

def test_differences_name_what_differs():
    assert trusted.differences(torch.ones(2, 3), torch.ones(2, 3) + 1e-7, 1e-5, 1e-4) is None
    assert "expected shape (2, 3), got (3, 2)" in trusted.differences(torch.ones(2, 3), torch.ones(3, 2), 1e-5, 0)
    assert "max |difference| 0.5" in trusted.differences(torch.zeros(4), torch.tensor([0, 0, 0.5, 0]), 1e-5, 0)
    masked = torch.tensor([1.0, float("-inf")])
    assert trusted.differences(masked, masked.clone(), 1e-5, 0) is None
    assert "-inf" in trusted.differences(masked, torch.tensor([1.0, -1e9]), 1e-5, 0)
    assert "NaN" in trusted.differences(torch.zeros(2), torch.tensor([0.0, float("nan")]), 1e-5, 0)
    assert "entries differ" in trusted.differences(torch.tensor([1, 2]), torch.tensor([1, 3]), 0, 0)
    assert trusted.differences(True, 1, 0, 0) is not None, "a bool is not a number that happens to be 1"
    assert trusted.differences([3, 4], [3, 5], 0, 0) == "value[1]: expected 4, got 5"
    # Integers match exactly, whatever the tolerance for floats: 124,439,808 parameters is not
    # "close enough" to 124,440,576, nor a sum a - b to a + b when b is small beside a.
    assert trusted.differences(124_439_808, 124_440_576, 1e-5, 1e-4) == "value: expected 124439808, got 124440576"
    assert trusted.differences([777_239], [777_155], 1e-5, 1e-4) == "value[0]: expected 777239, got 777155"
    assert trusted.differences(6, 6, 1e-5, 1e-4) is None and trusted.differences(6, 6.0, 0, 0) is None
    assert trusted.differences(1.0, 1.0 + 1e-6, 1e-5, 1e-4) is None, "floats keep their tolerance"


def test_a_probe_that_did_not_run_is_never_a_pass():
    lesson = toy()
    run = trusted.ProbeRun(values={"add": {"sums": [1]}}, problems={"mul": "did not run (wall clock)"})
    verdicts = trusted.judge(lesson, run, {"add": {"sums": [1]}, "mul": {"products": [2]}})
    assert verdicts == {"add": None, "mul": "did not run (wall clock)"}
    missing = trusted.judge(lesson, trusted.ProbeRun(values={"add": {}, "mul": {"products": [2]}}),
                            {"add": {"sums": [1]}, "mul": {"products": [2]}})
    assert missing["add"] == "sums: missing"


def _grading(folder, head: str, probes: str, tail: str = "") -> None:
    """A lesson's grading.py: ``head``, then ``probes`` between the probe lines, then ``tail``."""
    imports = "from grader.trusted.prelude import decides\n"
    (folder / "grading.py").write_text(f"{imports}{head}\n{trusted.PROBES_BEGIN}\n{probes}\n{trusted.PROBES_END}\n{tail}")


def test_probes_file_mistakes_are_reported(tmp_path):
    _grading(tmp_path, "", '@decides("test_a")\ndef probe_a(ns, seed):\n    return {}\n\n'
                           "def probe_b(ns, seed):\n    return {}\n")
    with pytest.raises(ValueError, match=r"probes that decide no test \(put @decides.*\['probe_b'\]"):
        trusted.load_probes(tmp_path)
    _grading(tmp_path, "", '@decides("test_a")\ndef probe_a(ns, seed):\n    return {}\n',
             "def probe_c(ns, seed):\n    return {}\n")
    with pytest.raises(ValueError, match=r"define probes between the two '# ===' lines .*\['probe_c'\]"):
        trusted.load_probes(tmp_path)
    assert trusted.load_probes(tmp_path / "nowhere") is None
    _grading(tmp_path, "", "")
    assert trusted.load_probes(tmp_path) is None, "no probes: no outside check"


def test_each_probe_says_which_tests_it_decides(tmp_path):
    _grading(tmp_path, "", '@decides("test_b", "test_a")\ndef probe_x(ns, seed):\n    return {}\n\n\n'
                           '@decides("test_a")\ndef probe_y(ns, seed):\n    return {}\n')
    assert trusted.load_probes(tmp_path).tests == {"test_b": ["x"], "test_a": ["x", "y"]}


def test_the_prelude_comes_first_on_both_sides(tmp_path):
    """Every lesson's probe code starts with the shared helpers; a probes file may use them as its own."""
    from grader.trusted.prelude import PRELUDE

    _grading(tmp_path, "def reference_namespace():\n    return {}\n",
             '@decides("test_a")\ndef probe_a(ns, seed):\n'
             "    g = _gen(seed, 5)\n"
             "    return {'error': _error(lambda: int('x')), 'none': _error(lambda: 1), 'pick': _pick(g, 4, 4),\n"
             "            'standing_in': _standing_in(ns, lambda: ns['f'](), f=lambda: 'stand-in'), 'after': ns.get('f')}\n")
    lesson = trusted.load_probes(tmp_path)
    assert lesson.code.startswith(PRELUDE) and lesson.code.rstrip().endswith("'after': ns.get('f')}")
    assert trusted.reference_values(lesson, 3) == {"a": {"error": "ValueError", "none": "none", "pick": 4,
                                                         "standing_in": "stand-in", "after": None}}
    for folder in catalog.GRADER_DIR.joinpath("lessons").iterdir():
        if (folder / "grading.py").exists():
            assert trusted.load_probes(folder).code.startswith(PRELUDE), folder.name


# --- the reference, withheld -------------------------------------------------------------------------

def test_withheld_modules_import_but_refuse_every_use(tmp_path):
    import gpt2ref

    copy = trusted.withheld_copy(Path(gpt2ref.__file__).parent, ("model", "generation"), tmp_path)
    code = textwrap.dedent("""
        import importlib, gpt2ref
        from gpt2ref import TINY, TransformerBlock, GPTModel
        TransformerBlock(TINY)  # an earlier lesson's part still works
        attempts = {
            "call": lambda: GPTModel(TINY),
            "subclass": lambda: exec("class Mine(GPTModel):\\n    pass", {"GPTModel": GPTModel}),
            "import_module": lambda: importlib.import_module("gpt2ref.model").GPTModel(TINY),
            "getattr": lambda: getattr(gpt2ref, "gener" + "ate")(None, None, 1),
            "attribute": lambda: GPTModel.forward,
        }
        for name, attempt in attempts.items():
            try:
                attempt()
                print(name, "WORKED")
            except ImportError as exc:
                print(name, "refused:", "not available while this lesson is graded" in str(exc))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(copy.parent), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert [line for line in lines if line] == [f"{name} refused: True" for name in
                                                ("call", "subclass", "import_module", "getattr", "attribute")]


# --- in the sandbox ---------------------------------------------------------------------------------

CORRECT_TOY = [("add", "def add(a, b):\n    return a + b\n"), ("mul", "def mul(a, b):\n    return a * b\n")]


@needs_sandbox
def test_toy_probes_agree_with_correct_code_and_name_the_wrong_part():
    lesson = toy()
    verdicts, run = trusted.check(lesson, CORRECT_TOY, seed=11)
    assert verdicts == {"add": None, "mul": None}, run.sandbox
    wrong = [("add", "def add(a, b):\n    return a - b\n"), CORRECT_TOY[1]]
    verdicts, _ = trusted.check(lesson, wrong, seed=12)
    assert verdicts["add"].startswith("sums") and verdicts["mul"] is None


@needs_sandbox
def test_the_inputs_change_with_the_seed_so_answers_cannot_be_stored():
    lesson = toy()
    one, two = trusted.reference_values(lesson, 1), trusted.reference_values(lesson, 2)
    assert one["add"]["sums"] != two["add"]["sums"]
    # Answers recorded from one grading run are wrong in the next.
    stored = f"_answers = iter({one['add']['sums']!r})\ndef add(a, b):\n    return next(_answers)\n"
    verdicts, _ = trusted.check(lesson, [("add", stored), CORRECT_TOY[1]], seed=2)
    assert verdicts["add"] is not None


@needs_sandbox
def test_what_the_student_code_can_do_inside_the_check_run():
    """Hostile solution cells: exit the process, hang, flood memory, read grader files, use the network."""
    lesson = toy()
    secrets = [catalog.GRADER_DIR / "lessons", catalog.COURSE_DIR / "source", catalog.GRADER_DIR / "nbgrader_config.py",
               LESSON_35 / "grading.py", Path("/etc/shadow")]  # (home: only the skeleton of bound paths)
    hostile = textwrap.dedent(f"""
        import os, socket
        found = [path for path in {[str(p) for p in secrets]!r} if os.path.exists(path) and os.listdir(path)
                 if os.path.isdir(path)] + [path for path in {[str(p) for p in secrets]!r} if os.path.isfile(path)]
        try:
            socket.create_connection(("127.0.0.1", 22), timeout=1)
            found.append("network")
        except OSError:
            pass
        def add(a, b):
            return found or a + b
    """)
    assert any(p.exists() for p in secrets), "the test must look for files that exist outside the sandbox"
    verdicts, run = trusted.check(lesson, [("add", hostile), CORRECT_TOY[1]], seed=3)
    assert verdicts["add"] is None, f"the sandbox let the code reach: {run.values}"
    exits = [("add", "import os\ndef add(a, b):\n    os._exit(0)\n"), CORRECT_TOY[1]]
    verdicts, run = trusted.check(lesson, exits, seed=4)
    assert verdicts["add"] is not None and verdicts["mul"] is not None, "nothing after the exit counts as run"
    hangs = [CORRECT_TOY[0], ("mul", "def mul(a, b):\n    while True:\n        try:\n            pass\n"
                                    "        except BaseException:\n            pass\n")]
    verdicts, run = trusted.check(lesson, hangs, seed=5)
    assert verdicts["add"] is None and verdicts["mul"] is not None


@needs_sandbox
def test_lesson_35_reference_cannot_be_borrowed_in_the_check_run():
    lesson = trusted.load_probes(LESSON_35)
    disguised = [("gpt_model", "from gpt2ref import GPTModel as _R\n\nclass GPTModel(_R):\n    pass\n"),
                 ("count_parameters", "import importlib\ncount_parameters = importlib.import_module('gpt2ref.model')"
                                      ".count_parameters\n"),
                 ("top_k_filter", "import gpt2ref\ntop_k_filter = getattr(gpt2ref, 'top_k_' + 'filter')\n"),
                 ("generate", "import runpy, gpt2ref, pathlib\n"
                              "generate = runpy.run_path(str(pathlib.Path(gpt2ref.__file__).parent / 'generation.py'))"
                              ".get('generate')\n")]
    verdicts, run = trusted.check(lesson, disguised, seed=6)
    assert all(verdicts.values()), verdicts
    assert any("not available while this lesson is graded" in str(e) for _, e in run.cell_errors), run.cell_errors


def test_without_a_sandbox_the_reference_is_still_withheld(monkeypatch):
    """GPT2_COURSE_UNSANDBOXED=1 (for trusted code only) still runs the check with the graded parts taken out."""
    monkeypatch.setenv(sandbox_settings.ENV_UNSANDBOXED, "1")
    lesson = trusted.load_probes(LESSON_35)
    borrowed = [("top_k_filter", "import gpt2ref\ntop_k_filter = gpt2ref.top_k_filter\n")]
    verdicts, run = trusted.check(lesson, borrowed, seed=7)
    assert run.sandbox["sandboxed"] is False
    assert "not available while this lesson is graded" in verdicts["top_k"], verdicts["top_k"]


@needs_sandbox
@pytest.mark.slow
def test_a_broken_probes_file_holds_the_tests_at_zero_for_review(toy_course):
    """Fail closed: when the trusted side cannot check, the kernel's word is not the fallback."""
    from grader import commands
    from grader.orchestration import score_table

    from .test_parallel import _submit

    _submit(toy_course, ["solution"])  # (the submissions are declared in the file about to break)
    grading = toy_course / "lessons" / SLUG / "grading.py"
    grading.write_text(grading.read_text().replace("def probe_add(", "def probe_add(oops, ", 1))
    scores = commands.autograde([SLUG], course_root=toy_course, quiet=True, jobs=1)
    status = score_table.read_statuses(toy_course, [SLUG])[("solution", SLUG)]
    assert status.label == "NEEDS REVIEW (outside check)"
    assert scores[("solution", SLUG)] == {"test_add": (0.0, 2.0), "test_mul": (0.0, 1.0), "post_quiz": (2.0, 2.0)}, \
        "every test the outside check covers scores 0 until reviewed; the post quiz is scored outside anyway"


def test_only_the_probes_of_tests_that_passed_in_the_kernel_run(toy_course):
    """A test the kernel failed scores zero whatever its probe says: its probe is not run (a part
    that loops would otherwise cost the probe's whole time limit)."""
    import nbformat

    from grader import commands
    from grader.plugins.cells import META

    from .test_parallel import _submit

    assert toy().for_tests({"test_mul"}).probes == ["mul"] and toy().for_tests(set()).probes == []
    _submit(toy_course, ["add-subtracts", "solution"])
    scores = commands.autograde([SLUG], course_root=toy_course, quiet=True, jobs=1)
    assert scores[("add-subtracts", SLUG)]["test_add"] == (0.0, 2.0)
    assert scores[("add-subtracts", SLUG)]["test_mul"] == (1.0, 1.0)
    checked = {}
    for student in ("add-subtracts", "solution"):
        nb = nbformat.read(toy_course / "autograded" / student / SLUG / f"{SLUG}.ipynb", as_version=4)
        checked[student] = dict(nb.metadata[META]["outside_check"])
    assert checked == {"add-subtracts": {"mul": None}, "solution": {"add": None, "mul": None}}


def test_a_probe_that_draws_from_the_global_generator_is_still_repeatable(tmp_path):
    _grading(tmp_path, "def reference_namespace():\n    return {}\n",
             "@decides('test_a')\ndef probe_a(ns, seed):\n    return {'x': _torch.rand(3)}\n"
             "@decides('test_b')\ndef probe_b(ns, seed):\n    return {'y': _torch.rand(3)}\n")
    lesson = trusted.load_probes(tmp_path)
    after_a = trusted.reference_values(lesson, 7)["b"]["y"]
    torch.rand(5)  # whatever else used the generator in between
    alone = trusted.reference_values(lesson.for_tests({"test_b"}), 7)
    assert list(alone) == ["b"] and torch.equal(alone["b"]["y"], after_a)
    assert not torch.equal(trusted.reference_values(lesson, 8)["b"]["y"], after_a), "the seed still matters"


@pytest.mark.parametrize("folder", sorted(p.parent for p in catalog.GRADER_DIR.glob("lessons/*/grading.py")),
                         ids=lambda folder: folder.name[:2])
def test_a_probe_gives_the_same_values_whichever_probes_ran_before_it(folder):
    """Each probe starts torch's generator from (seed, its name): run alone (its test was the only
    one that passed in the kernel) it returns what it returns after all the others."""
    lesson = trusted.load_probes(folder)
    everything = trusted.reference_values(lesson, 5)
    for grade_id in reversed(list(lesson.tests)):
        alone = lesson.for_tests({grade_id})
        values = trusted.reference_values(alone, 5)
        for name in alone.probes:
            assert trusted.judge(alone, trusted.ProbeRun(values={name: values[name]}), everything)[name] is None, \
                (grade_id, name)


# --- lessons 36 and 37 --------------------------------------------------------------------------------

LESSON_36 = catalog.lesson_dir("36-training-loop-eval")
LESSON_37 = catalog.lesson_dir("37-loading-pretrained-weights")


def solution_cells(slug: str) -> list[tuple[str, str]]:
    """The instructor's solution cells of ``slug``, as the outside check receives a submission's."""
    import nbformat

    from grader.build import strip_solution_markers

    nb = nbformat.read(catalog.source_notebook(slug), as_version=4)
    return [(cell.metadata["nbgrader"]["grade_id"], strip_solution_markers(cell.source)) for cell in nb.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")]


def replaced(cells, label, old, new):
    """``cells`` with ``old`` replaced by ``new`` (exactly once) in the cell ``label``."""
    out = []
    for name, source in cells:
        if name == label:
            assert source.count(old) == 1, f"{old!r} not once in {label}"
            source = source.replace(old, new)
        out.append((name, source))
    return out


@needs_sandbox
@pytest.mark.parametrize("folder", [LESSON_36, LESSON_37], ids=["36", "37"])
def test_lesson_probes_agree_with_the_lessons_own_solution(folder):
    lesson = trusted.load_probes(folder)
    cells = solution_cells(folder.name)
    for seed in (21, 22):
        verdicts, run = trusted.check(lesson, cells, seed=seed)
        assert run.cell_errors == [], run.cell_errors
        assert verdicts == {name: None for name in lesson.probes}, (seed, verdicts)
    one, two = trusted.reference_values(lesson, 21), trusted.reference_values(lesson, 22)
    assert trusted.differences(one, two, lesson.atol, lesson.rtol) is not None, "the inputs must change with the seed"


@needs_sandbox
def test_lesson_36_probes_find_an_unclipped_step_and_nothing_else():
    lesson = trusted.load_probes(LESSON_36)
    cells = replaced(solution_cells(LESSON_36.name), "train_step",
                     "        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)", "        pass")
    verdicts, _ = trusted.check(lesson, cells, seed=23)
    assert verdicts["train_step"] is not None
    # train() runs with a correct train_step standing in: the slip shows in its own test only
    assert {name: problem for name, problem in verdicts.items() if name != "train_step"} == {
        "batch_loss": None, "evaluate": None, "train": None, "checkpoint": None}


@needs_sandbox
def test_lesson_37_probes_find_a_top_left_mask_and_a_broken_tie():
    lesson = trusted.load_probes(LESSON_37)
    cells = replaced(solution_cells(LESSON_37.name), "cache_mask", "tril(diagonal=T_past)", "tril(diagonal=0)")
    cells = replaced(cells, "load_gpt2_weights", "tied parameters stay tied\n",
                     "tied parameters stay tied\n"
                     "    model.lm_head.weight = nn.Parameter(model.tok_embed.weight.detach().clone())\n")
    # CheckpointError imported from gpt2ref in a solution cell: the check run's stand-in, a ValueError
    cells = replaced(cells, "read_checkpoint", "def read_checkpoint(", "from gpt2ref import CheckpointError\n\n\n"
                                                                        "def read_checkpoint(")
    verdicts, run = trusted.check(lesson, cells, seed=24)
    assert run.cell_errors == []
    assert verdicts["cache_mask"] is not None and verdicts["tying"].startswith("tied"), verdicts
    assert [name for name, problem in verdicts.items() if problem] == ["tying", "cache_mask"]


@needs_sandbox
def test_lesson_37_reference_cannot_be_borrowed_in_the_check_run():
    lesson = trusted.load_probes(LESSON_37)
    borrowed = [("read_checkpoint", "from gpt2ref import read_checkpoint\n"),
                ("hf_key_to_course", "from gpt2ref.hf_weights import hf_to_course_name\n\n\n"
                                     "def hf_key_to_course(key):\n    return hf_to_course_name(key.removeprefix('transformer.'))\n"),
                ("load_gpt2_weights", "import gpt2ref\nload_gpt2_weights = gpt2ref.load_hf_gpt2\n")]
    verdicts, _ = trusted.check(lesson, borrowed + solution_cells(LESSON_37.name)[3:], seed=25)
    for name in ("read", "key_map", "load", "tying"):
        assert "not available while this lesson is graded" in verdicts[name], verdicts[name]
    assert verdicts["cache_mask"] is None
