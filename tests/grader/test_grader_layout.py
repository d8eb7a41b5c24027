"""``grader/`` stays a package of small, cohesive modules: no module of ``MAX_MODULE_LINES`` lines
or more, no function or method over ``MAX_FUNCTION_LINES`` lines unless its docstring says why it
is long. Every ``.py`` under ``grader/`` counts (``grader/plugins/`` too: one nbgrader plug-in a
module, like nbgrader's own ``nbgrader/preprocessors/``) except ``grader/lessons/``: the lesson
scripts there (``lesson.py``, ``grading.py``) are course content, a notebook or a
roster written as a script, not code of the package. nbgrader's course root, its generated
notebooks and what students hand in, is ``nbgrader-course/``, outside the package."""

from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import grader.plugins
from grader import build, catalog

GRADER = Path(__file__).resolve().parents[2] / "grader"
PLUGINS = GRADER / "plugins"
# Not code of the package: the lesson scripts (course content).
NOT_PACKAGE = (GRADER / "lessons",)
# What nbgrader keeps or writes in its course root: never inside the package.
NBGRADER_DATA = ("gradebook.db", "source", "release", "submitted", "autograded", "feedback", "grades.csv",
                 "grading-state.json", "downloaded", "intake")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
_SAYS_LONG = re.compile(r"\blong\b", re.IGNORECASE)


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """'name (N lines)' of each function or method of ``source`` (nested ones and methods named
    ``Class.method``) over ``limit`` lines, decorators included, whose docstring does not say
    "long"."""
    found: list[str] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                length = child.end_lineno - first + 1
                if length > limit and not _SAYS_LONG.search(ast.get_docstring(child) or ""):
                    found.append(f"{prefix}{child.name} ({length} lines)")
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def modules(folder: Path, skip: tuple[Path, ...] = ()) -> list[Path]:
    """Every ``.py`` under ``folder``, in subfolders too, except those under a folder of ``skip``."""
    return sorted(p for p in folder.rglob("*.py") if not any(p.is_relative_to(s) for s in skip))


def layout_problems(folder: Path, skip: tuple[Path, ...] = ()) -> list[str]:
    """What breaks the rules above in the modules under ``folder`` (not those under ``skip``)."""
    problems = []
    for path in modules(folder, skip):
        name = path.relative_to(folder).as_posix()
        source = path.read_text()
        lines = len(source.splitlines())
        if lines >= MAX_MODULE_LINES:
            problems.append(f"{name}: {lines} lines (split it)")
        problems += [f"{name}: {function}" for function in long_functions(source)]
    return problems


def test_every_grader_module_and_function_is_short():
    found = [p.relative_to(GRADER).as_posix() for p in modules(GRADER, NOT_PACKAGE)]
    assert "commands.py" in found and "plugins/grading_execute.py" in found, found
    assert not any(name.startswith("lessons/") for name in found), "the lesson scripts are course content"
    assert layout_problems(GRADER, NOT_PACKAGE) == []


def test_the_check_flags_a_long_module_and_a_long_function(tmp_path):
    def body(lines: int, indent: str = "    ") -> str:
        return "".join(f"{indent}x = {i}\n" for i in range(lines))

    long_one = f"def grow():\n{body(MAX_FUNCTION_LINES)}"
    assert long_functions(long_one) == [f"grow ({MAX_FUNCTION_LINES + 1} lines)"]
    assert long_functions(f"def grow():\n{body(MAX_FUNCTION_LINES - 1)}") == [], "the limit itself is allowed"
    nested = f"class Plugin:\n    @staticmethod\n    def run():\n        def inner():\n{body(MAX_FUNCTION_LINES, ' ' * 12)}"
    assert long_functions(nested) == [f"Plugin.run ({MAX_FUNCTION_LINES + 3} lines)",
                                      f"Plugin.run.inner ({MAX_FUNCTION_LINES + 1} lines)"]
    said = f'def grow():\n    """Long: one table, read top to bottom."""\n{body(MAX_FUNCTION_LINES)}'
    assert long_functions(said) == []
    not_said = f'def grow():\n    """It belongs along with the rest."""\n{body(MAX_FUNCTION_LINES)}'
    assert long_functions(not_said) == [f"grow ({MAX_FUNCTION_LINES + 2} lines)"]
    (tmp_path / "big.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    (tmp_path / "fn.py").write_text(long_one)
    (tmp_path / "ok.py").write_text("x = 1\n" * (MAX_MODULE_LINES - 1))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.py").write_text(long_one)
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "skipped.py").write_text(long_one)
    assert layout_problems(tmp_path, (tmp_path / "content",)) == [
        f"big.py: {MAX_MODULE_LINES} lines (split it)",
        f"fn.py: grow ({MAX_FUNCTION_LINES + 1} lines)",
        f"sub/deep.py: grow ({MAX_FUNCTION_LINES + 1} lines)",
    ]


def test_one_plugin_a_module_and_no_old_preprocessors_module():
    modules = [getattr(grader.plugins, name).__module__ for name in grader.plugins.__all__ if name != "CODE_STUB"]
    assert len(modules) == len(set(modules)) == 8, modules
    assert all(module.startswith("grader.plugins.") for module in modules), modules
    assert not (GRADER / "preprocessors.py").exists()
    assert importlib.util.find_spec("grader.preprocessors") is None


def test_the_top_level_holds_the_commands_and_a_package_per_concern():
    """grader/'s top level: the commands, the list of lessons and nbgrader's config; everything
    else sits in a package named after its concern."""
    top = sorted(p.stem for p in GRADER.glob("*.py"))
    assert top == ["__init__", "acceptance", "build", "catalog", "check_notebooks", "commands", "formgrader",
                   "nbgrader_config", "outside_coverage", "visible_checks"], top
    packages = sorted(p.parent.name for p in GRADER.glob("*/__init__.py"))
    assert packages == ["measuring", "orchestration", "plugins", "proofs", "sandbox", "trusted"], packages
    for name in top[1:]:
        if name in ("catalog", "nbgrader_config"):
            continue
        text = (GRADER / f"{name}.py").read_text()
        assert 'if __name__ == "__main__":' in text, f"grader/{name}.py is not a command"


def test_nbgrader_working_data_lives_outside_the_package():
    """nbgrader's course root is ``nbgrader-course/`` at the repository root, not ``grader/``: no
    gradebook, source, release or submissions in the package, and every default points outside."""
    assert [name for name in NBGRADER_DATA if (GRADER / name).exists()] == []
    assert list(GRADER.glob("autograde-*.log")) == []
    assert catalog.GRADER_DIR == GRADER
    assert catalog.COURSE_DIR == GRADER.parent / "nbgrader-course"
    assert GRADER not in catalog.COURSE_DIR.parents and catalog.COURSE_DIR != GRADER
    assert catalog.source_notebook("35-gpt-model-assembly").is_relative_to(catalog.COURSE_DIR / "source")
    # the lessons' authoring files stay in grader/lessons/
    assert catalog.authoring_root() == GRADER
    assert catalog.lesson_dir("35-gpt-model-assembly") == GRADER / "lessons" / "35-gpt-model-assembly"
    # nbgrader reads the copy of grader/nbgrader_config.py in the course root (grader.build keeps it)
    assert build.course_config() == {catalog.COURSE_DIR / "nbgrader_config.py":
                                     (GRADER / "nbgrader_config.py").read_bytes()}
    assert (catalog.COURSE_DIR / "nbgrader_config.py").read_bytes() == (GRADER / "nbgrader_config.py").read_bytes()


def test_a_course_root_with_its_own_lessons_uses_them(tmp_path):
    """A scratch course root (the tests' toy course) holds its own lessons/; a copy of the
    repository (the instructor's on the hub) finds them in the grader/ beside its course root."""
    (tmp_path / "lessons" / "01-x").mkdir(parents=True)
    assert catalog.authoring_root(tmp_path) == tmp_path
    copy = tmp_path / "copy"
    (copy / "grader" / "lessons").mkdir(parents=True)
    (copy / "nbgrader-course").mkdir()
    assert catalog.authoring_root(copy / "nbgrader-course") == copy / "grader"
    assert catalog.lesson_dir("01-x", copy / "nbgrader-course") == copy / "grader" / "lessons" / "01-x"
