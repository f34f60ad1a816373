"""The in-cluster smoke test script, against the scripted OpenAI-compatible server."""

from __future__ import annotations

import json

from demo_app import smoke_test
from tests.fake_openai import FakeOpenAI, Script

NO_SLEEP = lambda seconds: None  # noqa: E731


def test_passes_on_a_non_empty_answer(capsys):
    with FakeOpenAI() as fake:
        code = smoke_test.run({"INFERENCE_ENDPOINT": fake.base_url}, sleep=NO_SLEEP)
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {"result": "pass", "model": "fake-model", "attempt": 1, "answer": "Hello, world!"}
    assert fake.script.requests[0]["messages"][-1]["content"] == smoke_test.DEFAULT_PROMPT


def test_fails_on_an_empty_answer_after_bounded_retries(capsys):
    with FakeOpenAI(Script(reply_pieces=["", "  "])) as fake:
        code = smoke_test.run({"INFERENCE_ENDPOINT": fake.base_url, "SMOKE_TEST_ATTEMPTS": "3"}, sleep=NO_SLEEP)
    assert code == 1
    assert len(fake.script.requests) == 3
    assert capsys.readouterr().err.splitlines()[-1] == (
        "smoke test failed after 3 attempt(s): fake-model returned an empty completion"
    )


def test_fails_with_the_models_error(capsys):
    with FakeOpenAI(Script(chat_status=500)) as fake:
        code = smoke_test.run({"INFERENCE_ENDPOINT": fake.base_url, "SMOKE_TEST_ATTEMPTS": "2"}, sleep=NO_SLEEP)
    assert code == 1
    assert "model exploded" in capsys.readouterr().err.splitlines()[-1]


def test_fails_when_the_endpoint_is_down_and_waits_between_attempts(capsys):
    pauses = []
    code = smoke_test.run(
        {"INFERENCE_ENDPOINT": "http://127.0.0.1:9/v1", "SMOKE_TEST_ATTEMPTS": "3", "SMOKE_TEST_RETRY_SECONDS": "7"},
        sleep=pauses.append,
    )
    assert code == 1
    assert pauses == [7.0, 7.0]
    assert "unreachable" in capsys.readouterr().err.splitlines()[-1]


def test_misconfiguration_is_exit_code_2(capsys):
    assert smoke_test.run({}, sleep=NO_SLEEP) == 2
    assert "INFERENCE_ENDPOINT" in capsys.readouterr().err
