"""Every command reports a mistake in its input as one ``error:`` line and an exit status."""

from __future__ import annotations

import pytest

from course.cli import exits_on


class InputError(ValueError):
    pass


@exits_on(InputError, status=2)
def main(what: str) -> int:
    if what == "bad input":
        raise InputError("the roster has no username column")
    if what == "bug":
        raise KeyError("a bug stays a traceback")
    print("done")
    return 0


def test_a_named_error_is_one_line_on_stderr_and_the_status(capsys):
    assert main("bad input") == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: the roster has no username column\n")


def test_success_and_other_errors_pass_through(capsys):
    assert main("fine") == 0 and capsys.readouterr().out == "done\n"
    with pytest.raises(KeyError, match="a bug stays a traceback"):
        main("bug")
    assert main.__name__ == "main", "the command keeps its name (help, logs)"
