"""The runs ``grader.orchestration.parallel``'s workers save for the parent's ``nbgrader autograde``
(``GradingExecute.save_dir`` / ``reuse_dir`` / ``reuse_wait``), keyed by what was run."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import nbformat

from grader import sandbox
from grader.plugins.cells import as_text, metadata_of, nbgrader_of, tags_of


def execution_key(nb) -> str:
    """sha256 of what a run of ``nb`` depends on: each cell's type, source, nbgrader metadata and
    tags (not cell ids or outputs), and the kernel."""
    cells = [[cell.cell_type, as_text(cell.get("source")), nbgrader_of(cell), sorted(tags_of(cell))] for cell in nb.cells]
    kernel = (metadata_of(nb).get("kernelspec") or {}).get("name")
    return hashlib.sha256(json.dumps([kernel, cells], sort_keys=True, default=str).encode()).hexdigest()


def _execution_path(folder: str | Path, info: dict) -> Path:
    return Path(folder) / info["student"] / info["assignment"] / f"{info['notebook']}.json"


def save_execution(folder: str | Path, info: dict, key: str, nb, verdict: dict | None,
                   timing: dict | None = None) -> None:
    """A worker's run of one notebook, for the parent's ``nbgrader autograde`` (``reuse_dir``)."""
    path = _execution_path(folder, info)
    path.parent.mkdir(parents=True, exist_ok=True)
    sandbox.write_json(path, {"key": key, "notebook": nbformat.writes(nb), "verdict": verdict, "timing": timing})


def load_execution(folder: str | Path, info: dict, key: str):
    """(executed notebook, verdict) saved by a worker for exactly these cells, else None."""
    try:
        saved = json.loads(_execution_path(folder, info).read_text())
        if saved.get("key") != key:
            return None
        return nbformat.reads(saved["notebook"], as_version=4), saved.get("verdict")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def workers_running(marker: str) -> bool:
    """True while ``marker`` (``grader.orchestration.parallel``: the PID of the process that watches the
    workers) exists and that process is alive: if it was killed, nobody would remove the file."""
    try:
        os.kill(int(Path(marker).read_text().strip()), 0)
    except PermissionError:  # alive, someone else's
        return True
    except (OSError, ValueError):  # gone, no file, or not a PID
        return False
    return True
