"""The demo chat app over loopback, against a scripted OpenAI-compatible server."""

from __future__ import annotations

import http.client
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from demo_app import app as demo
from tests.fake_openai import FakeOpenAI


@contextmanager
def running_app(endpoint: str, **overrides) -> Iterator[int]:
    settings = demo.Settings(
        inference_endpoint=endpoint, model=None, system_prompt="Be brief.", max_tokens=64,
        request_timeout_seconds=2.0, port=0,
    )
    settings = demo.Settings(**{**settings.__dict__, **overrides})
    server = demo.make_server(settings, host="127.0.0.1")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def chat(port: int, messages: list[dict]) -> tuple[http.client.HTTPResponse, bytes]:
    body = json.dumps({"messages": messages}).encode()
    return request(port, "POST", "/api/chat", body, {"Content-Type": "application/json"})


def sse_events(data: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in data.decode().split("\n\n"):
        if not block.strip():
            continue
        name = "message"
        payload = None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                payload = json.loads(line[6:])
        events.append((name, payload))
    return events


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def test_chat_streams_the_models_answer_piece_by_piece(fake):
    with running_app(fake.base_url) as port:
        response, data = chat(port, [{"role": "user", "content": "Hi"}])
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/event-stream")
    events = sse_events(data)
    assert [payload["delta"] for name, payload in events if "delta" in payload] == ["Hello", ", ", "world", "!"]
    assert events[-1] == ("message", {"done": True, "model": "fake-model"})


def test_model_is_discovered_from_v1_models_and_the_conversation_forwarded(fake):
    fake.script.models = ["served-model-a", "other"]
    conversation = [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "And again"},
    ]
    with running_app(fake.base_url) as port:
        chat(port, conversation)
    sent = fake.script.requests[-1]
    assert sent["model"] == "served-model-a"
    assert sent["stream"] is True
    assert sent["max_tokens"] == 64
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, *conversation]


def test_model_setting_overrides_discovery(fake):
    with running_app(fake.base_url, model="pinned") as port:
        chat(port, [{"role": "user", "content": "Hi"}])
    assert fake.script.requests[-1]["model"] == "pinned"


def test_page_is_served(fake):
    with running_app(fake.base_url) as port:
        response, data = request(port, "GET", "/")
    assert response.status == 200
    assert b"/api/chat" in data and b"<textarea" in data


def test_healthz_answers_without_the_model():
    with running_app("http://127.0.0.1:9/v1") as port:
        response, data = request(port, "GET", "/healthz")
    assert (response.status, json.loads(data)) == (200, {"status": "ok"})


def test_readyz_is_ready_only_when_the_model_answers(fake):
    with running_app(fake.base_url) as port:
        response, data = request(port, "GET", "/readyz")
    assert response.status == 200 and json.loads(data)["models"] == ["fake-model"]
    with running_app("http://127.0.0.1:9/v1") as port:
        response, data = request(port, "GET", "/readyz")
    assert response.status == 503 and "unreachable" in json.loads(data)["error"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"messages": []}', 400, '"messages"'),
        (json.dumps({"messages": [{"role": "user", "content": "   "}]}).encode(), 400, "empty"),
        (json.dumps({"messages": [{"role": "system", "content": "x"}]}).encode(), 400, "role"),
        (json.dumps({"messages": [{"role": "user", "content": "x" * 4001}]}).encode(), 413, "at most 4000"),
        (json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}).encode(),
         400, "last message"),
        (json.dumps({"messages": [{"role": "user", "content": "x"}] * 41}).encode(), 413, "at most 40"),
        (b"x" * (64 * 1024 + 1), 413, "bytes"),
    ],
)
def test_bad_chat_requests_get_a_clear_4xx_and_the_app_stays_up(fake, body, status, fragment):
    with running_app(fake.base_url) as port:
        response, data = request(port, "POST", "/api/chat", body, {"Content-Type": "application/json"})
        assert response.status == status
        assert fragment in json.loads(data)["error"]
        assert request(port, "GET", "/healthz")[0].status == 200
    assert fake.script.requests == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"), [("GET", "/api/chat", "POST"), ("POST", "/", "GET"), ("DELETE", "/readyz", "GET")]
)
def test_wrong_method_is_405_with_allow(fake, method, path, allowed):
    with running_app(fake.base_url) as port:
        response, data = request(port, method, path, b"" if method != "GET" else None)
    assert response.status == 405
    assert response.getheader("Allow") == allowed
    assert "not allowed" in json.loads(data)["error"]


def test_unknown_path_is_404(fake):
    with running_app(fake.base_url) as port:
        response, _ = request(port, "GET", "/nope")
    assert response.status == 404


def test_model_endpoint_down_is_a_502_the_page_can_show():
    with running_app("http://127.0.0.1:9/v1") as port:
        response, data = chat(port, [{"role": "user", "content": "Hi"}])
        assert response.status == 502
        assert "unreachable" in json.loads(data)["error"]
        assert request(port, "GET", "/healthz")[0].status == 200


def test_model_endpoint_error_is_a_502_with_its_message(fake):
    fake.script.chat_status = 500
    with running_app(fake.base_url) as port:
        response, data = chat(port, [{"role": "user", "content": "Hi"}])
    assert response.status == 502
    assert "model exploded" in json.loads(data)["error"]


def test_slow_model_endpoint_is_a_504(fake):
    fake.script.delay_seconds = 1.5
    with running_app(fake.base_url, request_timeout_seconds=0.2) as port:
        response, data = chat(port, [{"role": "user", "content": "Hi"}])
        assert response.status == 504
        assert "did not answer within 0.2 s" in json.loads(data)["error"]
        assert request(port, "GET", "/healthz")[0].status == 200


def test_broken_stream_ends_with_an_error_event(fake):
    fake.script.break_stream_after = 2
    with running_app(fake.base_url) as port:
        response, data = chat(port, [{"role": "user", "content": "Hi"}])
    events = sse_events(data)
    assert response.status == 200
    assert events[-1][0] == "error" and "broken stream" in events[-1][1]["error"]
    assert [p["delta"] for _, p in events if "delta" in p] == ["Hello", ", "]


def test_one_json_log_line_per_request_without_prompt_text(fake, caplog):
    secret_prompt = "my private question about payroll"
    with caplog.at_level(logging.INFO, logger="demo_app"):
        with running_app(fake.base_url) as port:
            chat(port, [{"role": "user", "content": secret_prompt}])
            request(port, "GET", "/healthz")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.levelno == logging.INFO]
    requests = [line for line in lines if line["event"] == "request"]
    seen = [(r["method"], r["path"], r["status"]) for r in requests]
    assert seen == [("POST", "/api/chat", 200), ("GET", "/healthz", 200)]
    assert requests[0]["model"] == "fake-model" and requests[0]["prompt_chars"] == len(secret_prompt)
    assert requests[0]["completion_chars"] == len("Hello, world!")
    assert secret_prompt not in caplog.text


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({}, "INFERENCE_ENDPOINT"),
        ({"INFERENCE_ENDPOINT": "localhost:8080"}, "http(s) URL"),
        ({"INFERENCE_ENDPOINT": "http://x/v1", "MAX_TOKENS": "lots"}, "MAX_TOKENS"),
        ({"INFERENCE_ENDPOINT": "http://x/v1", "REQUEST_TIMEOUT_SECONDS": "-1"}, "REQUEST_TIMEOUT_SECONDS"),
    ],
)
def test_bad_settings_name_the_variable_and_an_example(env, fragment):
    with pytest.raises(demo.ConfigurationError, match="e.g."):
        try:
            demo.Settings.from_env(env)
        except demo.ConfigurationError as error:
            assert fragment in str(error)
            raise


def test_settings_defaults():
    settings = demo.Settings.from_env({"INFERENCE_ENDPOINT": "http://ws.kaito.svc.cluster.local/v1/"})
    assert settings.inference_endpoint == "http://ws.kaito.svc.cluster.local/v1"
    defaults = (settings.model, settings.max_tokens, settings.request_timeout_seconds, settings.port)
    assert defaults == (None, 512, 60.0, 8000)


def test_the_page_asks_which_model_answers(fake):
    fake.script.models = ["phi-4"]
    with running_app(fake.base_url) as port:
        response, data = request(port, "GET", "/api/model")
        _, page = request(port, "GET", "/")
    assert (response.status, json.loads(data)) == (200, {"model": "phi-4"})
    assert b'fetch("/api/model")' in page


def test_the_page_has_a_favicon_inline_so_no_request_goes_unanswered(fake):
    with running_app(fake.base_url) as port:
        _, page = request(port, "GET", "/")
    assert b'<link rel="icon" href="data:image/svg+xml,' in page


def test_the_page_renders_the_models_markdown_without_any_html_parser():
    # Safety by construction: the page builds answers from text nodes and createElement only.
    page = (demo.PAGE).read_text()
    script = page.split("<script>", 1)[1]
    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser", "eval("):
        assert unsafe not in script, unsafe
    assert "renderMarkdown(reply)" in script


def test_a_busy_port_is_one_clear_line(fake, capsys, monkeypatch):
    import socket

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(demo.os, "environ", {"INFERENCE_ENDPOINT": fake.base_url, "PORT": str(port)})
        assert demo.main() == 1
    err = capsys.readouterr().err
    assert err == (f"demo_app: port {port} is already in use; stop what listens there, or choose another port: "
                   f"PORT={port + 1} python3 demo_app/app.py\n")


def test_behind_a_front_door_every_request_carries_the_key_read_fresh_from_its_file(fake, tmp_path):
    key = tmp_path / "api-key"
    key.write_text("first-key\n")
    with running_app(fake.base_url, api_key_file=str(key)) as port:
        assert chat(port, [{"role": "user", "content": "Hi"}])[0].status == 200
        key.write_text("rotated-key")  # the kubelet updates a mounted Secret in place
        assert chat(port, [{"role": "user", "content": "Again"}])[0].status == 200
    assert fake.script.authorizations[0] == "Bearer first-key"
    assert fake.script.authorizations[-1] == "Bearer rotated-key"


def test_a_team_over_its_limit_is_told_to_wait_not_that_the_model_broke(fake):
    fake.script.chat_status = 429
    with running_app(fake.base_url) as port:
        response, data = chat(port, [{"role": "user", "content": "Hi"}])
    assert response.status == 429
    assert "try again in a minute" in json.loads(data)["error"]


def test_the_key_and_tls_settings_come_from_the_environment():
    settings = demo.Settings.from_env({"INFERENCE_ENDPOINT": "https://front.example/openai/v1",
                                       "INFERENCE_API_KEY_FILE": "/var/run/kaito-aks/api-key",
                                       "INFERENCE_TLS_VERIFY": "false"})
    assert settings.api_key_file == "/var/run/kaito-aks/api-key" and settings.verify_tls is False
    assert demo.Settings.from_env({"INFERENCE_ENDPOINT": "https://front.example/v1"}).verify_tls is True
