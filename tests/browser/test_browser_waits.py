"""The browser tests' waits (test_quiz_in_jupyterlab.py): they last while something happens
and fail fast, naming what they waited for, once nothing does. No browser needed."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.browser import lab as lab_tools

Activity = lab_tools.Activity


class FakeClock:
    """A clock that moves only when the wait sleeps."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _wait(clock: FakeClock, done, activity, **options) -> None:
    lab_tools.wait_while_active("the thing", done, activity, clock=clock, sleep=clock.sleep, poll_s=1.0, **options)


def test_a_busy_wait_outlasts_the_stall_limit_and_ends_when_done():
    clock = FakeClock()
    _wait(clock, lambda: clock.now >= 300, lambda: Activity(True, (), "kernel busy"), stall_s=10, limit_s=1000)
    assert clock.now == 300


def test_changes_count_as_progress():
    clock = FakeClock()
    _wait(clock, lambda: clock.now >= 100, lambda: Activity(False, (clock.now // 5,), "cells run"), stall_s=10)
    assert clock.now == 100


def test_nothing_happening_fails_after_the_stall_limit_naming_what_it_waited_for():
    clock = FakeClock()
    with pytest.raises(lab_tools.Stalled, match=r"for the thing; nothing happened in the last 10s \(kernel idle\)"):
        _wait(clock, lambda: False, lambda: Activity(False, ("same",), "kernel idle"), stall_s=10)
    assert clock.now == 10


def test_a_wait_that_never_ends_stops_at_the_limit():
    clock = FakeClock()
    with pytest.raises(lab_tools.Stalled, match="the most one wait may take"):
        _wait(clock, lambda: False, lambda: Activity(True, (), "kernel busy"), stall_s=10, limit_s=50)
    assert clock.now == 50


def test_done_at_once_asks_nothing_else():
    def no_activity():
        raise AssertionError("activity asked for")

    _wait(FakeClock(), lambda: True, no_activity)


def _cpu_shares(*programs: str) -> list[float]:
    """The share of one core each ``python -c program`` uses over two seconds, once started."""
    processes = [subprocess.Popen([sys.executable, "-c", code]) for code in programs]
    try:
        time.sleep(1.5)  # past the interpreters' start
        meters = [lab_tools.CpuMeter(process.pid) for process in processes]
        for meter in meters:
            meter.share()
        time.sleep(2)
        return [meter.share() for meter in meters]
    finally:
        for process in processes:
            process.kill()
            process.wait()


def test_the_cpu_meter_tells_a_working_process_from_an_idle_one():
    working, idle = _cpu_shares("while True: pass", "import time; time.sleep(60)")
    assert working > lab_tools.CPU_BUSY_SHARE and idle < lab_tools.CPU_BUSY_SHARE / 5, (working, idle)
