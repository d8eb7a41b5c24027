"""Runs inside the grading sandbox (``grader.trusted``): the student's solution cells, then the
lesson's probes on inputs chosen at grading time; writes what the probes returned as plain data.

    python -I runner.py JOB_FOLDER

JOB_FOLDER/job.json: {"cells": [[label, source], ...], "probe_code": str, "probes": [name, ...],
"seed": int, "probe_timeout": seconds}. Writes JOB_FOLDER/out.json ({"cells": [errors],
"probes": {name: {"values": {key: plain value}, "error": str | null}}}) and
JOB_FOLDER/out.safetensors (tensors, keyed "<probe>/<key>").

Nothing here is trusted: the student's code runs in this very process and may change anything
in it. The decision is taken outside, by comparing these values with the reference's on the
same inputs; all a student can do here is hand back values, and the right values for inputs
chosen just now take a working implementation to produce. This file imports only the standard
library and torch/safetensors, and is stand-alone (the sandbox holds no other grader file).
"""

from __future__ import annotations

import json
import signal
import sys
import traceback
from pathlib import Path


class ProbeTimeout(Exception):
    """A probe ran past its time."""


def alarm(signum, frame):
    raise ProbeTimeout("ran past its time limit")


def code_only(source: str) -> str:
    """A notebook cell as plain Python: IPython magics and shell lines become comments."""
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


def plain(value, key, tensors, torch):
    """JSON-able value; tensors go to ``tensors`` and are named in the JSON."""
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().to("cpu").contiguous().clone()
        return {"tensor": key}
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{key}.{i}", tensors, torch) for i, v in enumerate(value)]
    raise TypeError(f"a probe returned {type(value).__name__} for {key!r}: not plain data")


def main(folder: str) -> int:
    job_dir = Path(folder)
    job = json.loads((job_dir / "job.json").read_text())
    import torch

    torch.set_num_threads(1)
    namespace = {"__name__": "__main__"}
    cell_errors = []
    for label, source in job["cells"]:
        try:
            exec(compile(code_only(source), f"<cell {label}>", "exec"), namespace)
        except BaseException as exc:  # noqa: BLE001 (the student's code: anything can come out)
            cell_errors.append([label, _short(exc)])
    probes_ns: dict = {}
    exec(compile(job["probe_code"], "<probes>", "exec"), probes_ns)
    results, tensors = {}, {}
    signal.signal(signal.SIGALRM, alarm)
    for name in job["probes"]:
        entry = {"values": {}, "error": None}
        try:
            signal.setitimer(signal.ITIMER_REAL, float(job.get("probe_timeout", 20)))
            try:
                probes_ns["_start_probe"](int(job["seed"]), name)
                values = probes_ns[f"probe_{name}"](namespace, int(job["seed"]))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            entry["values"] = {key: plain(value, f"{name}/{key}", tensors, torch) for key, value in values.items()}
        except BaseException as exc:  # noqa: BLE001
            entry["error"] = _short(exc)
            entry["where"] = traceback.format_exc(limit=-3)[-1500:]
        results[name] = entry
        # Write after every probe: a later one that hangs or kills the process loses only itself.
        _write(job_dir, cell_errors, results, tensors)
    _write(job_dir, cell_errors, results, tensors)
    return 0


def _write(job_dir: Path, cell_errors, results, tensors) -> None:
    from safetensors.torch import save_file

    save_file(dict(tensors), str(job_dir / "out.safetensors.tmp"))
    (job_dir / "out.safetensors.tmp").replace(job_dir / "out.safetensors")
    (job_dir / "out.json.tmp").write_text(json.dumps({"cells": cell_errors, "probes": results}))
    (job_dir / "out.json.tmp").replace(job_dir / "out.json")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
