"""Slow commands the suite starts as soon as it knows it needs them, so they run on the second core while
the tests evaluate programs on the first; a test then takes its command's result.

A test asks for one with `@pytest.mark.background("<name>")`; tests/conftest.py starts each named
command once, after collection, only when a collected test asks for it."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

# name -> a function of a fresh scratch folder returning the command (and its environment)
COMMANDS: dict[str, Callable[[Path], tuple[list[str], dict[str, str] | None]]] = {}
_RUNNING: dict[str, tuple[subprocess.Popen, Path]] = {}
NICENESS = 4


def command(name: str):
    def register(function: Callable[[Path], tuple[list[str], dict[str, str] | None]]):
        COMMANDS[name] = function
        return function

    return register


def start(name: str) -> None:
    if name in _RUNNING:
        return
    folder = Path(tempfile.mkdtemp(prefix=f"kaito-aks-{name}-"))
    argv, env = COMMANDS[name](folder)
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=Path(__file__).resolve().parent.parent)
    # Behind the tests for the CPU (the tests run one after the other; a command has until a test asks), and each
    # behind those started before it: tests/conftest.py starts them in the order the tests will ask.
    try:
        os.setpriority(os.PRIO_PROCESS, process.pid, min(19, NICENESS + 5 * len(_RUNNING)))
    except OSError:  # gone already, or not allowed here: it runs as it is
        pass
    _RUNNING[name] = (process, folder)


def result(name: str, timeout: float = 180) -> tuple[subprocess.CompletedProcess, Path]:
    """The finished command (started now if nobody started it) and its scratch folder."""
    start(name)
    process, folder = _RUNNING[name]
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err), folder
