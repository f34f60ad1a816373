"""Smoke test: ask the model one question through its endpoint; succeed only on a non-empty answer.

Runs as a Kubernetes Job at the end of `pulumi up` (same ConfigMap and image as the demo app), and
on a laptop: INFERENCE_ENDPOINT=http://localhost:8080/v1 python demo_app/smoke_test.py

Settings (environment): INFERENCE_ENDPOINT (required), INFERENCE_API_KEY_FILE and INFERENCE_TLS_VERIFY (as the app),
MODEL (default: discovered),
SMOKE_TEST_PROMPT, SMOKE_TEST_ATTEMPTS (5), SMOKE_TEST_RETRY_SECONDS (15),
REQUEST_TIMEOUT_SECONDS (120). Exit code 0 on success; 1 with the model's error on the last line.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping

try:  # as a file next to app.py (the container), or as the demo_app package (tests)
    from app import ConfigurationError, ModelClient, Settings, UpstreamError
except ImportError:  # pragma: no cover - exercised by whichever way is not in use
    from demo_app.app import ConfigurationError, ModelClient, Settings, UpstreamError

DEFAULT_PROMPT = "Reply with exactly one word: ready"


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


if __name__ == "__main__":
    sys.exit(run(os.environ))
