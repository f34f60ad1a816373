"""The in-cluster smoke test script, against the scripted OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest

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


# --- the measurement (smoke_test.py --measure) ---------------------------------------------------------------


def measured(tmp_path, script: Script, **env: str) -> dict:
    log = tmp_path / "termination-log"
    with FakeOpenAI(script) as fake:
        code = smoke_test.run_measurement({"INFERENCE_ENDPOINT": fake.base_url, "MODEL": "fake-model", **env},
                                          termination_log=log)
    assert code == 0  # always: the question decides pass or fail, not the measurement
    return json.loads(log.read_text())


def test_measurement_runs_the_streams_at_once_with_their_token_limit(tmp_path):
    script = Script(reply_pieces=["tok"] * 6, delay_seconds=0.2)
    result = measured(tmp_path, script, SMOKE_TEST_LOAD_STREAMS="3", SMOKE_TEST_LOAD_TOKENS="6",
                      SMOKE_TEST_HEARTBEAT_FILE=str(tmp_path / "heartbeat"))
    assert [request["max_tokens"] for request in script.requests] == [6, 6, 6]
    assert all(request["stream_options"] == {"include_usage": True} for request in script.requests)
    assert result["streams"] == 3 and result["outputTokens"] == 18 and result["countedFrom"] == "stream chunks"
    # Each request waits 0.2 s before its first token; at once, the three take about 0.2 s, not 0.6 s.
    assert 0.2 <= result["ttftP50Seconds"] <= result["ttftMaxSeconds"] < 0.5
    assert result["seconds"] < 0.55
    assert result["outputTokensPerSecond"] == pytest.approx(18 / result["seconds"], rel=0.02)
    assert (tmp_path / "heartbeat").exists()


def test_measurement_counts_the_servers_tokens_when_it_reports_them(tmp_path):
    result = measured(tmp_path, Script(send_usage=True), SMOKE_TEST_LOAD_STREAMS="2")
    # The fake reports two tokens per streamed piece, as a server whose chunks carry several tokens would.
    assert (result["outputTokens"], result["countedFrom"]) == (2 * 4 * 2, "usage")


def test_measurement_reports_a_failed_or_dropped_stream_instead_of_numbers(tmp_path):
    failed = measured(tmp_path, Script(chat_status=500))
    assert set(failed) == {"streams", "error"}
    assert failed["error"].startswith("4 of 4 streams failed: the model endpoint answered 500")
    empty = measured(tmp_path, Script(reply_pieces=[]))
    assert empty == {"streams": 4, "error": "4 of 4 streams ended without a token: the server does not serve "
                                            "concurrent requests"}


def test_measurement_of_an_unreachable_endpoint_still_leaves_its_message(tmp_path, capsys):
    log = tmp_path / "termination-log"
    code = smoke_test.run_measurement({"INFERENCE_ENDPOINT": "http://127.0.0.1:9/v1", "MODEL": "m",
                                       "SMOKE_TEST_LOAD_STREAMS": "1"}, termination_log=log)
    assert code == 0
    result = json.loads(log.read_text())
    assert "unreachable" in result["error"]
    assert json.loads(capsys.readouterr().out) == result
    bad = tmp_path / "bad"
    smoke_test.run_measurement({"INFERENCE_ENDPOINT": "http://127.0.0.1:9/v1", "SMOKE_TEST_LOAD_STREAMS": "0"},
                               termination_log=bad)
    assert json.loads(bad.read_text())["error"].startswith("measurement misconfigured: SMOKE_TEST_LOAD_STREAMS")
