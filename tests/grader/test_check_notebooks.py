"""grader.check_notebooks: option parsing, and --memory-limit measured and enforced for real (a cgroup)."""

from __future__ import annotations

import argparse
import re

import nbformat
import pytest

from grader import check_notebooks
from grader.check_notebooks import build_parser, main, parse_size
from grader.measuring.lab_session import MemoryLimitedSession
from grader.measuring.notebook_runs import run_notebook
from grader.sandbox import cgroups

MB = 1024**2
REASON = cgroups.unavailable_reason()
needs_cgroups = pytest.mark.skipif(REASON is not None, reason=f"cgroups unavailable here: {REASON}")


@pytest.mark.parametrize("text, size", [
    ("2G", 2 * 1024**3), ("2g", 2 * 1024**3), ("512M", 512 * MB), ("300M", 300 * MB), ("1.5G", 1536 * MB),
    ("2GB", 2 * 1024**3), ("2GiB", 2 * 1024**3), ("1048576", MB), ("4096K", 4 * MB),
])
def test_sizes_parse_in_powers_of_1024(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "G", "2X", "two gigs", "-1G", "2 G B", "1e9", "0", "2048", "512K"])
def test_bad_sizes_are_refused_with_an_example(text):
    with pytest.raises(argparse.ArgumentTypeError, match=r"e\.g\. 2G or 512M"):
        parse_size(text)


def test_memory_limit_option(capsys):
    args = build_parser().parse_args(["--memory-limit", "2G", "31-tokenized-dataset-sliding-window"])
    assert args.memory_limit == 2 * 1024**3 and args.targets == ["31-tokenized-dataset-sliding-window"]
    assert build_parser().parse_args([]).memory_limit is None
    with pytest.raises(SystemExit) as exit_:
        main(["--memory-limit", "2X"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --memory-limit: invalid size '2X'" in err and "Traceback" not in err


def test_memory_limit_without_cgroups_fails_with_a_clear_message(monkeypatch, capsys):
    monkeypatch.setattr(check_notebooks, "unavailable_reason", lambda: "no cgroups here; run as root")
    started = []
    monkeypatch.setattr(check_notebooks, "MemoryLimitedSession", lambda *a: started.append(a))
    assert main(["--memory-limit", "2G", "31-tokenized-dataset-sliding-window"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --memory-limit needs Linux cgroups") and "run as root" in err
    assert not started


def _table_row(out: str, name: str) -> tuple[float | None, float | None, float | None, str]:
    """(kernel RSS, server+kernel peak, + mapped files) in MB, and the row, from the printed table."""
    row = next(line for line in out.splitlines() if line.startswith(name + " "))
    figures = re.findall(r"(\d+|-)(?: MB)?(?= |$)", row.split(maxsplit=1)[1].split("s ", 2)[2])
    kernel, _, group, fresh, _ = [None if f == "-" else float(f) for f in figures[:5]]
    return kernel, group, fresh, row


@pytest.mark.slow
@needs_cgroups
def test_the_smallest_lesson_fits_in_binders_2g_with_the_server(capsys):
    slug = "31-tokenized-dataset-sliding-window"
    assert main(["--memory-limit", "2G", slug]) == 0
    out = capsys.readouterr().out
    idle = float(re.search(r"JupyterLab server idle at http://127\.0\.0\.1:\d+ .*: (\d+) MB", out).group(1))
    kernel, group, fresh, row = _table_row(out, slug)
    assert row.endswith("ok"), row
    assert idle > 20, "the JupyterLab server is in the group"
    assert None not in (kernel, group, fresh), row
    # The group's own peak leaves out library pages other processes on this machine loaded
    # first; adding the files the kernel and server map gives the upper estimate for a fresh
    # Binder container. (It can land a little either side of the kernel's own RSS, which
    # counts shared pages too, so the two are not compared.)
    assert idle < group < fresh < 2048, row
    assert kernel < 2048, row


@pytest.mark.slow
@needs_cgroups
def test_a_notebook_over_the_limit_is_reported_out_of_memory(tmp_path, capsys):
    notebook = tmp_path / "hog.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("hog = b'x' * (600 * 1024**2)\nprint(len(hog))")]
    nbformat.write(nb, notebook)
    assert main(["--memory-limit", "300M", str(notebook)]) == 1
    captured = capsys.readouterr()
    _, group, _, row = _table_row(captured.out, "hog")
    assert row.endswith("OUT OF MEMORY"), row
    assert group is not None and group <= 300, row
    assert "OOM killer" in captured.err


@pytest.mark.slow
@needs_cgroups
def test_the_same_notebook_passes_with_room(tmp_path, capsys):
    # The control for the test above: what fails is the limit, not the notebook.
    notebook = tmp_path / "hog.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("hog = b'x' * (600 * 1024**2)\nprint(len(hog))")]
    nbformat.write(nb, notebook)
    session = MemoryLimitedSession(1536 * MB)
    with session:
        run = run_notebook(notebook, session=session)
        server_pid = session.server.process.pid
        group_paths = session.cgroup.paths
    assert run.error is None and not run.out_of_memory, run.error
    assert 600 < run.group_peak_mb < 1536
    assert session.server.process.returncode is not None, f"server {server_pid} still running"
    assert not any(p.exists() for p in group_paths)
