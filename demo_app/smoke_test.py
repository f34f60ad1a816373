"""Smoke test: ask the model one question through its endpoint; succeed only on a non-empty answer.

Runs as a Kubernetes Job at the end of `pulumi up` (same ConfigMap and image as the demo app), and
on a laptop: INFERENCE_ENDPOINT=http://localhost:8080/v1 python demo_app/smoke_test.py

With --measure it runs a short bounded load instead (SMOKE_TEST_LOAD_STREAMS concurrent streamed answers of at
most SMOKE_TEST_LOAD_TOKENS tokens each, 4 and 128 by default) and prints generated tokens per second and time
to first token as one JSON line, also written to /dev/termination-log, where Kubernetes keeps it in the pod's
status for `pulumi up` to read. It always exits 0: whether the model answers is the question's test. With
SMOKE_TEST_HEARTBEAT_FILE it touches that file at the start and with every token, for a liveness probe.

Settings (environment): INFERENCE_ENDPOINT (required), INFERENCE_API_KEY_FILE and INFERENCE_TLS_VERIFY (as the app),
MODEL (default: discovered),
SMOKE_TEST_PROMPT, SMOKE_TEST_ATTEMPTS (5), SMOKE_TEST_RETRY_SECONDS (15),
REQUEST_TIMEOUT_SECONDS (120). Exit code 0 on success; 1 with the model's error on the last line.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

try:  # as a file next to app.py (the container), or as the demo_app package (tests)
    from app import ConfigurationError, ModelClient, Settings, UpstreamError
except ImportError:  # pragma: no cover - exercised by whichever way is not in use
    from demo_app.app import ConfigurationError, ModelClient, Settings, UpstreamError

DEFAULT_PROMPT = "Reply with exactly one word: ready"
# Long enough an answer that every stream runs to its token limit.
LOAD_PROMPT = "Tell a long story about a lighthouse keeper and the ships she watches over, in plain prose."
TERMINATION_LOG = Path("/dev/termination-log")


def run(env: Mapping[str, str], sleep: Callable[[float], None] = time.sleep) -> int:
    try:
        settings = Settings.from_env({"REQUEST_TIMEOUT_SECONDS": "120", **env})
        attempts = int(env.get("SMOKE_TEST_ATTEMPTS", "5"))
        pause = float(env.get("SMOKE_TEST_RETRY_SECONDS", "15"))
    except (ConfigurationError, ValueError) as error:
        print(f"smoke test misconfigured: {error}", file=sys.stderr)
        return 2
    question = env.get("SMOKE_TEST_PROMPT", DEFAULT_PROMPT)
    client = ModelClient(settings)
    last_error = "no attempt was made"
    for attempt in range(1, max(attempts, 1) + 1):
        try:
            model, deltas = client.stream_chat([{"role": "user", "content": question}])
            answer = "".join(deltas).strip()
            if answer:
                print(json.dumps({"result": "pass", "model": model, "attempt": attempt, "answer": answer[:200]}))
                return 0
            last_error = f"{model} returned an empty completion"
        except UpstreamError as error:
            last_error = str(error)
        except (ValueError, OSError) as error:
            last_error = f"the model endpoint sent an unusable reply: {error}"
        print(json.dumps({"result": "retry", "attempt": attempt, "error": last_error}), file=sys.stderr)
        if attempt < attempts:
            sleep(pause)
    # The last line is what Kubernetes keeps as the container's termination message.
    print(f"smoke test failed after {attempts} attempt(s): {last_error}", file=sys.stderr)
    return 1


def measure(client: ModelClient, streams: int, max_tokens: int, clock: Callable[[], float] = time.monotonic,
            progress: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """`streams` streamed answers at once, each of at most `max_tokens`: how many tokens came out per second of
    the whole run, and how long each waited for its first token. Token counts are the server's (usage) where it
    reports them, else the streamed pieces (one token each from vLLM and llama.cpp)."""
    results: list[dict[str, Any]] = [{} for _ in range(streams)]

    def one_stream(index: int) -> None:
        began, first, pieces, usage = clock(), None, 0, {}
        try:
            _, deltas = client.stream_chat([{"role": "user", "content": LOAD_PROMPT}], max_tokens=max_tokens,
                                           usage=usage)
            for _piece in deltas:
                if first is None:
                    first = clock() - began
                pieces += 1
                progress()
        except UpstreamError as error:
            results[index] = {"error": str(error)}
            return
        except (ValueError, OSError) as error:
            results[index] = {"error": f"the model endpoint sent an unusable reply: {error}"}
            return
        counted = usage.get("completion_tokens")
        results[index] = {"first": first, "tokens": counted if isinstance(counted, int) else pieces,
                          "usage": isinstance(counted, int)}

    started = clock()
    threads = [threading.Thread(target=one_stream, args=(index,)) for index in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = clock() - started
    failed = [result["error"] for result in results if "error" in result]
    if failed:
        return {"streams": streams, "error": f"{len(failed)} of {streams} streams failed: {failed[0]}"}
    # A server that drops a request for a newer one may end its stream at once, without an error.
    empty = sum(1 for result in results if result["first"] is None)
    if empty:
        return {"streams": streams, "error": f"{empty} of {streams} streams ended without a token: the server "
                                             "does not serve concurrent requests"}
    tokens = sum(result["tokens"] for result in results)
    firsts = [result["first"] for result in results]
    return {
        "streams": streams,
        "maxTokensPerStream": max_tokens,
        "outputTokens": tokens,
        "seconds": round(seconds, 3),
        "outputTokensPerSecond": round(tokens / seconds, 2),
        "ttftP50Seconds": round(statistics.median(firsts), 3),
        "ttftMaxSeconds": round(max(firsts), 3),
        "countedFrom": "usage" if all(result["usage"] for result in results) else "stream chunks",
    }


def run_measurement(env: Mapping[str, str], termination_log: Path = TERMINATION_LOG) -> int:
    try:
        settings = Settings.from_env({"REQUEST_TIMEOUT_SECONDS": "120", **env})
        streams = int(env.get("SMOKE_TEST_LOAD_STREAMS", "4"))
        max_tokens = int(env.get("SMOKE_TEST_LOAD_TOKENS", "128"))
        if streams < 1 or max_tokens < 1:
            raise ValueError("SMOKE_TEST_LOAD_STREAMS and SMOKE_TEST_LOAD_TOKENS must be at least 1")
        heartbeat = Path(env["SMOKE_TEST_HEARTBEAT_FILE"]) if env.get("SMOKE_TEST_HEARTBEAT_FILE") else None

        def progress() -> None:
            if heartbeat is not None:
                heartbeat.touch()

        progress()
        result = measure(ModelClient(settings), streams, max_tokens, progress=progress)
    except (ConfigurationError, ValueError) as error:
        result = {"error": f"measurement misconfigured: {error}"}
    except UpstreamError as error:
        result = {"error": str(error)}
    line = json.dumps(result, sort_keys=True)
    print(line)
    try:
        termination_log.write_text(line)
    except OSError as error:
        print(f"could not write {termination_log}: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_measurement(os.environ) if "--measure" in sys.argv[1:] else run(os.environ))
