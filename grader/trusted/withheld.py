"""The reference, withheld: a copy of gpt2ref in which the modules a lesson grades define only
placeholders that refuse to be used, so that the check run's student code cannot hand its work
to the reference (and the package still imports)."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

_PLACEHOLDER = '''"""Withheld while this lesson is graded: write it yourself."""


class _Withheld:
    def __init__(self, name):
        object.__setattr__(self, "_name", name)

    def _refuse(self, *args, **kwargs):
        raise ImportError(f"{object.__getattribute__(self, '_name')} is not available while this lesson is "
                          "graded: the graded parts must be your own code")

    __call__ = __getattr__ = __setattr__ = __mro_entries__ = __getitem__ = __iter__ = _refuse

'''


def defined_names(source: str) -> list[str]:
    """The names a module's text defines at its top level (functions, classes, assignments)."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return [name for name in names if not name.startswith("__")]


def withheld_copy(package_dir: Path, modules: tuple[str, ...], where: Path) -> Path:
    """A copy of the package at ``package_dir`` in which each module of ``modules`` defines its
    names as placeholders that raise ImportError when used (so the package still imports)."""
    target = where / package_dir.name
    shutil.copytree(package_dir, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module in modules:
        path = target / f"{module}.py"
        if not path.exists():
            raise ValueError(f"grading.py withholds {package_dir.name}.{module}, which does not exist")
        names = defined_names(path.read_text())
        path.write_text(_PLACEHOLDER + "".join(
            f"{name} = _Withheld({package_dir.name + '.' + module + '.' + name!r})\n" for name in names))
    return target
