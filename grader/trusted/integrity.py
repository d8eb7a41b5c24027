"""Find code in a submission that could game the tests, for the instructor to review.

Autograding runs the student's code in the same Python process as the tests, so code that
rewrites the checking machinery (``course.checks.expect_equal = ...``, ``torch.equal =
...``, ``builtins``, ``sys.modules``), escapes the process (``os._exit``, ``subprocess``)
or runs other programs can fake a pass. Test cells are restored from the source
before grading, so the only place such code can live is a cell the student wrote. This
module parses those cells (never runs them) and reports each suspicious line; ``make
autograde`` prints the report after the scores.

    python -m grader.trusted.integrity NOTEBOOK.ipynb [--source SOURCE.ipynb]
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.build import strip_solution_markers

# Modules whose attributes student code has no business replacing.
PROTECTED_MODULES = {
    "builtins", "course", "grader", "quiz", "nbgrader", "torch", "numpy", "math", "random",
    "sys", "os", "importlib", "inspect", "unittest", "types", "gc", "tiktoken", "transformers",
}
# Calls that reach around the tests or out of the process.
SUSPICIOUS_CALLS = {
    "exec", "eval", "compile", "__import__", "globals",
    "os._exit", "os.kill", "os.system", "os.execv", "os.execvp", "os.fork",
    "sys.exit", "sys.settrace", "sys.setprofile", "importlib.reload", "gc.get_referrers",
}
SUSPICIOUS_IMPORTS = {"builtins", "subprocess", "ctypes", "unittest.mock", "mock", "signal", "multiprocessing"}
CODE_MAGICS = {"time", "timeit", "prun", "capture", "debug", "writefile", "run"}
SUSPICIOUS_NAMES = {"__builtins__", "__code__", "__globals__", "modules"}
# Settings ordinary code changes by assignment (determinism, precision, environment variables):
# an assignment to an attribute under one of these, or an item of one of these, is not tampering.
SETTINGS_PREFIXES = ("torch.backends.",)
SETTINGS_MAPPINGS = {"os.environ"}


@dataclass(frozen=True)
class Finding:
    cell: int  # 0-based index in the notebook
    line: int  # 1-based line in that cell
    rule: str
    code: str

    def __str__(self) -> str:
        return f"cell {self.cell}, line {self.line}: {self.rule}: {self.code.strip()}"


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, module_aliases: dict[str, str], variables: frozenset[str] = frozenset()):
        self.aliases = module_aliases  # local name -> module it names
        self.variables = variables  # names the student's code binds to values, never to a module
        self.found: list[tuple[int, str]] = []

    def _resolve(self, name: str) -> str:
        """``name`` with its first part replaced by the module it is an alias of."""
        root, _, rest = name.partition(".")
        if root in self.aliases:
            return self.aliases[root] + ("." + rest if rest else "")
        return name

    def _module_of(self, name: str | None) -> str | None:
        if name is None:
            return None
        root = name.split(".")[0]
        if root not in self.aliases and root in self.variables:
            return None  # `course = {...}` then `course["x"] = 1`: a dict, not the module
        module = self.aliases.get(root, root if root in PROTECTED_MODULES else None)
        if module is None:
            return None
        return module if module.split(".")[0] in PROTECTED_MODULES else None

    def _target(self, target: ast.AST, lineno: int, verb: str) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element, lineno, verb)
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            base = target.value
            name = _dotted(base)
            module = self._module_of(name)
            full = self._resolve(name) if name is not None else None
            if full is not None and isinstance(target, ast.Attribute):
                full += "." + target.attr
            if full is not None and (full.startswith(SETTINGS_PREFIXES) or (
                    isinstance(target, ast.Subscript) and self._resolve(name) in SETTINGS_MAPPINGS)):
                return  # torch.backends.cudnn.deterministic = True, os.environ["X"] = "1"
            if module is not None:
                self.found.append((lineno, f"{verb} inside module {module!r}"))
            elif isinstance(target, ast.Attribute) and target.attr in SUSPICIOUS_NAMES:
                self.found.append((lineno, f"{verb} {target.attr}"))
        elif isinstance(target, ast.Name) and target.id in SUSPICIOUS_NAMES:
            self.found.append((lineno, f"{verb} {target.id}"))

    def visit_Assign(self, node):
        for target in node.targets:
            self._target(target, node.lineno, "assigns")
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target, node.lineno, "assigns")
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._target(target, node.lineno, "deletes")
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name in SUSPICIOUS_IMPORTS or alias.name.split(".")[0] in {"subprocess", "ctypes"}:
                self.found.append((node.lineno, f"imports {alias.name}"))
        self.generic_visit(node)

    def visit_ImportFrom(self, node):
        module = node.module or ""
        names = {f"{module}.{alias.name}" for alias in node.names}
        if (module in SUSPICIOUS_IMPORTS or names & SUSPICIOUS_IMPORTS
                or module.split(".")[0] in {"subprocess", "ctypes", "builtins"}):
            self.found.append((node.lineno, f"imports from {module}"))
        self.generic_visit(node)

    def visit_Call(self, node):
        name = _dotted(node.func)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else None
        if method in ("system", "getoutput") and "get_ipython" in ast.unparse(node.func):
            self.found.append((node.lineno, "runs a shell command (!)"))
        elif method in ("run_line_magic", "run_cell_magic") and node.args:
            self._magic(node)
        if name in ("setattr", "delattr"):
            # setattr(self, ...) in a student's class is fine; setattr(torch, ...) is not.
            target = _dotted(node.args[0]) if node.args else None
            module = self._module_of(target)
            if module is not None:
                self.found.append((node.lineno, f"calls {name} on module {module!r}"))
        elif name is not None:
            # An imported name counts by what it names: `from re import compile` is not the builtin.
            resolved = self._resolve(name)
            if resolved in SUSPICIOUS_CALLS:
                self.found.append((node.lineno, f"calls {resolved}"))
        self.generic_visit(node)

    def _magic(self, node: ast.Call) -> None:
        """%time / %%timeit / %%capture … carry Python code in a string argument: scan it too."""
        args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
        if args[0] in ("system", "sx", "script", "bash", "sh"):
            self.found.append((node.lineno, f"runs a shell command (%{args[0]})"))
        elif args[0] in CODE_MAGICS:
            for code in (a for a in args[1:] if isinstance(a, str)):
                try:
                    tree = ast.parse(_python_source(code))
                except SyntaxError:
                    continue
                inner = _Scanner(self.aliases, self.variables)
                inner.visit(tree)
                self.found += [(node.lineno + line - 1, rule) for line, rule in inner.found]

    def visit_Name(self, node):
        if node.id == "__builtins__":
            self.found.append((node.lineno, "uses __builtins__"))

    def visit_Attribute(self, node):
        if node.attr == "modules" and _dotted(node.value) in ("sys",):
            self.found.append((node.lineno, "uses sys.modules"))
        self.generic_visit(node)


def _python_source(cell_source: str) -> str:
    """Cell code with IPython magics turned into plain Python, so it parses."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(cell_source)


def _module_aliases(trees: list[ast.AST]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    aliases[(alias.asname or alias.name).split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    # `from torch import nn` binds a module; `from torch import tensor` a function:
                    # both count, replacing attributes of either is tampering with torch.
                    aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    # A module reached by assignment: `c = course.checks`, `m = importlib.import_module("torch")`.
    for tree in trees:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
                continue
            value, module = node.value, None
            if isinstance(value, ast.Call) and value.args and isinstance(value.args[0], ast.Constant) \
                    and isinstance(value.args[0].value, str) \
                    and (_dotted(value.func) or "").split(".")[-1] in ("import_module", "__import__"):
                module = value.args[0].value
            elif (dotted := _dotted(value)) is not None:
                root, _, rest = dotted.partition(".")
                if root in aliases:
                    module = aliases[root] + ("." + rest if rest else "")
                elif root in PROTECTED_MODULES:
                    module = dotted
            if module is not None and module.split(".")[0] in PROTECTED_MODULES:
                aliases[node.targets[0].id] = module
    return aliases


_PLAIN_VALUES = (ast.Constant, ast.Dict, ast.List, ast.Set, ast.Tuple, ast.ListComp, ast.DictComp,
                 ast.SetComp, ast.JoinedStr)


def _variables(trees: list[ast.AST]) -> frozenset[str]:
    """Names the code binds to plain values (literals, containers) or to its own functions and
    classes: such a name is not a module even if a module has that name."""
    names: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, _PLAIN_VALUES):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
    return frozenset(names)


def scan(notebook: nbformat.NotebookNode, source: nbformat.NotebookNode | None = None) -> list[Finding]:
    """Suspicious lines in the code cells the student wrote or changed.

    Skipped, given ``source`` (the instructor's notebook): cells whose text equals one of
    its cells (with or without the solution markers), and the locked and test cells it
    defines, because autograding replaces those with the instructor's version anyway.
    Without ``source`` every code cell is scanned.
    """
    instructor_cells: set[str] = set()
    restored_ids: set[str] = set()
    for cell in source.cells if source is not None else []:
        instructor_cells |= {cell.source, strip_solution_markers(cell.source)}
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") or meta.get("grade"):
            restored_ids.add(meta.get("grade_id"))

    def restored(cell) -> bool:
        meta = cell.metadata.get("nbgrader", {})
        return bool(meta.get("locked") or meta.get("grade")) and meta.get("grade_id") in restored_ids

    parsed: list[tuple[int, str, ast.AST]] = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or cell.source in instructor_cells or restored(cell):
            continue
        code = _python_source(cell.source)
        try:
            parsed.append((index, cell.source, ast.parse(code)))
        except SyntaxError:
            continue  # it cannot run either
    aliases = _module_aliases([tree for _, _, tree in parsed])
    variables = _variables([tree for _, _, tree in parsed])
    findings = []
    for index, text, tree in parsed:
        scanner = _Scanner(aliases, variables)
        scanner.visit(tree)
        lines = text.splitlines()
        for lineno, rule in sorted(set(scanner.found)):
            code = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
            findings.append(Finding(index, lineno, rule, code))
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.trusted.integrity", description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--source", type=Path, help="the instructor's notebook (its cells are not scanned)")
    args = parser.parse_args(argv)
    try:
        nb = nbformat.read(args.notebook, as_version=4)
        source = nbformat.read(args.source, as_version=4) if args.source else None
    except (OSError, ValueError) as exc:
        print(f"error: cannot read notebook: {exc}", file=sys.stderr)
        return 2
    findings = scan(nb, source)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} line(s) to review" if findings else "nothing suspicious")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
