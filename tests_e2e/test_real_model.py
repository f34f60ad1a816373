"""The demo app and the smoke test against a real model (SmolLM2-135M-Instruct via llama-cpp-python)."""

from __future__ import annotations

import json
import urllib.request

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
