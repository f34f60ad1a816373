"""The demo app and the smoke test against a real model (SmolLM2-135M-Instruct via llama-cpp-python)."""

from __future__ import annotations

import json
import sys
import urllib.request

import pytest

from demo_app import smoke_test


def test_smoke_test_gets_a_real_completion(model_endpoint, capsys):
    code = smoke_test.run({"INFERENCE_ENDPOINT": model_endpoint, "SMOKE_TEST_ATTEMPTS": "2"})
    assert code == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out)
    assert result["result"] == "pass"
    assert result["model"] == "smollm2-135m-instruct"
    assert result["answer"].strip()


def test_readyz_reports_the_served_model(demo_app_url):
    with urllib.request.urlopen(f"{demo_app_url}/readyz", timeout=10) as response:
        body = json.load(response)
    assert response.status == 200
    assert body == {"status": "ready", "models": ["smollm2-135m-instruct"]}


def test_chat_streams_a_real_answer_token_by_token(demo_app_url):
    payload = json.dumps({"messages": [{"role": "user", "content": "What is the capital of France?"}]}).encode()
    request = urllib.request.Request(
        f"{demo_app_url}/api/chat", data=payload, method="POST", headers={"Content-Type": "application/json"}
    )
    deltas, done = [], None
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for raw in response:
            line = raw.decode().strip()
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if "delta" in event:
                    deltas.append(event["delta"])
                if event.get("done"):
                    done = event
    assert len(deltas) > 1, "the answer arrived in one piece, not streamed"
    assert "".join(deltas).strip()
    assert done == {"done": True, "model": "smollm2-135m-instruct"}


def test_the_measurement_under_a_bounded_load_yields_plausible_numbers(model_endpoint, tmp_path, capsys):
    log = tmp_path / "termination-log"
    env = {"INFERENCE_ENDPOINT": model_endpoint, "SMOKE_TEST_LOAD_STREAMS": "3", "SMOKE_TEST_LOAD_TOKENS": "48"}
    assert smoke_test.run_measurement(env, termination_log=log) == 0
    result = json.loads(log.read_text())
    assert json.loads(capsys.readouterr().out) == result  # the log line is what the pod prints too
    assert "error" not in result, result
    assert (result["streams"], result["maxTokensPerStream"]) == (3, 48)
    # Every stream produced something and none more than it was allowed.
    assert 3 <= result["outputTokens"] <= 3 * 48
    assert 0 < result["ttftP50Seconds"] <= result["ttftMaxSeconds"] <= result["seconds"]
    # A 135M-parameter model on two CPU cores: more than one token a second, far fewer than ten thousand.
    assert 1 < result["outputTokensPerSecond"] < 10_000
    assert result["outputTokensPerSecond"] == pytest.approx(result["outputTokens"] / result["seconds"], rel=0.01)
    print(json.dumps(result), file=sys.stderr)
