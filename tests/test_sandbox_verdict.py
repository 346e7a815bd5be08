"""The sandbox's verdict, from how a run ended alone: one test per verdict, without running anything."""

from __future__ import annotations

import signal

import pytest

from duplexlab.apps.sandbox import Limits, explain, verdict

LIMITS = Limits(time=2.0, memory=256 * 2**20, cap=1024 * 1024)


def test_exit_status_zero_is_ok():
    """A run that exits 0, unstopped, is ok, and its stderr is left as it was."""
    assert verdict(0) == "ok"
    assert explain("ok", 0, "a warning", LIMITS) == "a warning"


def test_a_nonzero_exit_is_a_runtime_error_with_the_stderr_as_it_was():
    """An exception (exit 1) is a runtime error; nothing is added to its traceback."""
    assert verdict(1, stderr_tail="ZeroDivisionError: division by zero") == "runtime-error"
    assert explain("runtime-error", 1, "Traceback …", LIMITS) == "Traceback …"


@pytest.mark.parametrize("returncode", [128 + signal.SIGKILL, -signal.SIGKILL])
def test_a_signal_is_a_runtime_error_that_names_the_signal(returncode):
    """Killed by a signal (128 + n from the child, -n from the OS): a runtime error that says which."""
    assert verdict(returncode) == "runtime-error"
    assert explain("runtime-error", returncode, "", LIMITS) == "killed by signal 9 (SIGKILL)"


def test_the_time_limit_is_a_time_limit():
    """Stopped at the wall-clock limit, or killed by SIGXCPU past RLIMIT_CPU: a time limit, with its seconds."""
    assert verdict(-9, stopped="time-limit") == "time-limit"
    assert verdict(128 + signal.SIGXCPU) == "time-limit"
    assert explain("time-limit", -9, "", LIMITS) == "stopped after the time limit of 2 s"


def test_too_much_output_is_an_output_limit_whatever_the_exit():
    """Stopped past the output cap: an output limit, even if the code would have failed or passed."""
    assert verdict(0, stopped="output-limit") == "output-limit"
    assert verdict(-9, stopped="output-limit", stderr_tail="MemoryError") == "output-limit"
    assert explain("output-limit", -9, "partial", LIMITS) == "partial\nstopped after printing more than 1024 KiB"


@pytest.mark.parametrize("tail", ["MemoryError", "OSError: [Errno 12] Cannot allocate memory"])
def test_running_out_of_memory_is_a_memory_limit(tail):
    """A failed run whose stderr ends in a MemoryError or ENOMEM is a memory limit; a passing one that
    printed those words is ok."""
    assert verdict(1, stderr_tail=tail) == "memory-limit"
    assert verdict(0, stderr_tail=tail) == "ok"
    assert verdict(None, stopped="memory-limit") == "memory-limit"  # the watchdog, where RLIMIT_AS is not
    assert explain("memory-limit", 1, tail, LIMITS) == f"{tail}\nwent over the memory limit of 256 MiB"


def test_the_first_reason_to_stop_wins_over_the_exit_status():
    """A run stopped for time that was then killed by SIGXCPU stays a time limit; a stop outranks memory words."""
    assert verdict(128 + signal.SIGXCPU, stopped="time-limit") == "time-limit"
    assert verdict(1, stopped="time-limit", stderr_tail="MemoryError") == "time-limit"
