"""grader.trusted.integrity: student code that could game the tests is found; ordinary code is not."""

from __future__ import annotations

import nbformat
import pytest

from grader.trusted.integrity import scan


def notebook(*sources: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


@pytest.mark.parametrize(
    "code, rule",
    [
        ("import course.checks\ncourse.checks.expect_equal = lambda *a, **k: None", "assigns inside module 'course'"),
        ("from course import checks\nchecks.expect_close = print", "assigns inside module 'course.checks'"),
        ("import torch\ntorch.equal = lambda a, b: True", "assigns inside module 'torch'"),
        ("import torch as t\nt.allclose = lambda *a, **k: True", "assigns inside module 'torch'"),
        ("import builtins", "imports builtins"),
        ("__builtins__.AssertionError = Exception", "uses __builtins__"),
        ("import sys\nsys.modules['course.checks'] = object()", "uses sys.modules"),
        ("import os\nos._exit(0)", "calls os._exit"),
        ("import subprocess", "imports subprocess"),
        ("from unittest import mock", "imports from unittest"),
        ("import torch\nsetattr(torch, 'equal', None)", "calls setattr on module 'torch'"),
        ("def f(): pass\nf.__code__ = (lambda: 1).__code__", "assigns __code__"),
        ("exec('x = 1')", "calls exec"),
        ("%time import builtins", "imports builtins"),
        ("%%timeit\nimport torch\ntorch.equal = None", "assigns inside module 'torch'"),
        ("!rm -rf ../source", "runs a shell command"),
    ],
)
def test_tampering_is_reported_with_its_line(code, rule):
    findings = scan(notebook(code))
    assert any(rule in f.rule for f in findings), findings
    assert all(f.cell == 0 and f.line >= 1 for f in findings)


def test_ordinary_model_code_is_not_reported():
    code = '''
%matplotlib inline
import math
import torch
from torch import nn
import torch.nn.functional as F

class GPTModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_embed = nn.Embedding(10, 4)
        self.lm_head = nn.Linear(4, 10, bias=False)
        self.lm_head.weight = self.tok_embed.weight
        setattr(self, "extra", nn.Identity())
        nn.init.normal_(self.tok_embed.weight, std=0.02)

    def forward(self, idx):
        return self.lm_head(self.tok_embed(idx))

model = GPTModel(None).eval()
torch.manual_seed(0)
torch.save(model.state_dict(), "ckpt.pt")
'''
    assert scan(notebook(code)) == []


def test_the_instructors_own_cells_are_not_scanned():
    source = notebook("import builtins  # the instructor may", "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION")
    submitted = notebook("import builtins  # the instructor may", "def add(a, b):\n    return a + b", "import subprocess")
    findings = scan(submitted, source)
    assert [(f.cell, f.rule) for f in findings] == [(2, "imports subprocess")]


def test_unparseable_cells_are_skipped():
    assert scan(notebook("def broken(:\n    pass")) == []


def test_test_cells_are_skipped_because_grading_restores_them():
    test_meta = {"nbgrader": {"grade": True, "locked": True, "grade_id": "test_x", "points": 1}}
    source = notebook("globals()  # the instructor's test cell, hidden tests included")
    source.cells[0].metadata.update(test_meta)
    submitted = notebook("globals()  # the student version (hidden tests stripped)", "globals()")
    submitted.cells[0].metadata.update(test_meta)
    assert [(f.cell, f.rule) for f in scan(submitted, source)] == [(1, "calls globals")]
    # A student who strips the metadata makes it an ordinary cell: it runs, so it is scanned.
    submitted.cells[0].metadata = {}
    assert [f.cell for f in scan(submitted, source)] == [0, 1]


@pytest.mark.parametrize(
    "code",
    [
        "import torch\ntorch.backends.cudnn.deterministic = True\ntorch.backends.cudnn.benchmark = False",
        "import torch\ntorch.backends.cuda.matmul.allow_tf32 = True",
        "import torch.backends.cudnn as cudnn\ncudnn.deterministic = True",
        "import torch\ntorch.manual_seed(0)\ntorch.cuda.manual_seed_all(0)",
        "import torch\ntorch.set_num_threads(2)",
        "import torch\ntorch.set_printoptions(precision=3, sci_mode=False)",
        "import torch\ntorch.use_deterministic_algorithms(True)\ntorch.set_default_dtype(torch.float32)",
        "import torch\ntorch.set_float32_matmul_precision('high')",
        "import os\npath = os.path.join('a', 'b')\nos.makedirs(path, exist_ok=True)\nprint(os.getcwd())",
        "import os\nos.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'",
        "import sys\nprint(sys.path, sys.version)\nif '/tmp' not in sys.path:\n    print(sys.path[0])",
        "import sys\nsys.setrecursionlimit(10_000)",
        "import random\nimport numpy as np\nrandom.seed(0)\nnp.random.seed(0)",
        "import math\nscale = 1 / math.sqrt(64)",
        "import warnings\nwarnings.filterwarnings('ignore', category=UserWarning)",
        "%%time\nimport torch\ntorch.manual_seed(0)",
        "from re import compile\npattern = compile(r'\\w+')",
        "course = {'name': 'gpt2'}\ncourse['name'] = 'GPT-2'",
        "types = ['a', 'b']\ntypes[0] = 'c'",
        "import torch\nx = torch.zeros(3)\nx.requires_grad = True\nmodel = torch.nn.Linear(3, 3)\nmodel.weight.data.fill_(0.0)",
    ],
)
def test_ordinary_settings_and_names_are_not_reported(code):
    assert scan(notebook(code)) == []


@pytest.mark.parametrize(
    "code, rule",
    [
        ("import importlib\ntorch = importlib.import_module('torch')\ntorch.equal = lambda a, b: True",
         "assigns inside module 'torch'"),
        ("import importlib\nm = importlib.import_module('course.checks')\nm.expect_equal = print",
         "assigns inside module 'course.checks'"),
        ("import course.checks\nc = course.checks\nc.expect_equal = print", "assigns inside module 'course.checks'"),
        ("import torch\ntorch.backends = None", "assigns inside module 'torch'"),
        ("import os\nos.environ = {}", "assigns inside module 'os'"),
        ("from os import _exit\n_exit(0)", "calls os._exit"),
    ],
)
def test_tampering_through_aliases_is_reported(code, rule):
    assert any(rule in f.rule for f in scan(notebook(code))), scan(notebook(code))
