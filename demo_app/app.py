"""kaito-aks demo chat app: a web page that streams answers from any OpenAI-compatible endpoint.

Standard library only, so in the cluster it runs on a stock Python image with this file mounted
from a ConfigMap — nothing to build or push. On a laptop:

    INFERENCE_ENDPOINT=http://localhost:8080/v1 python demo_app/app.py   # then open http://localhost:8000

Endpoints: GET / (the page), GET /api/model (which model answers), POST /api/chat (server-sent
events), GET /healthz (the process is up), GET /readyz (the model endpoint answers /v1/models).

Settings (environment): INFERENCE_ENDPOINT (required, the base URL ending in /v1), INFERENCE_API_KEY_FILE (a
file holding an API key, sent as `Authorization: Bearer <key>` and read again for every request, so a rotated key
is used as soon as the file changes), INFERENCE_TLS_VERIFY (true; false only for a test certificate),
MODEL (default: the first model /v1/models lists), SYSTEM_PROMPT, MAX_TOKENS (512), REQUEST_TIMEOUT_SECONDS (60),
PORT (8000), LOG_LEVEL (INFO; DEBUG also logs prompt sizes per message).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PAGE = Path(__file__).with_name("index.html")
MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4000
MAX_MESSAGES = 40
ROLES = ("user", "assistant")

log = logging.getLogger("demo_app")


class ConfigurationError(Exception):
    """An environment setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    inference_endpoint: str
    model: str | None
    system_prompt: str
    max_tokens: int
    request_timeout_seconds: float
    port: int
    api_key_file: str | None = None
    verify_tls: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        endpoint = env.get("INFERENCE_ENDPOINT", "").strip().rstrip("/")
        parsed = urllib.parse.urlparse(endpoint)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConfigurationError(
                f"INFERENCE_ENDPOINT {endpoint!r} is not an http(s) URL; set it to the OpenAI-compatible "
                "base URL, e.g. INFERENCE_ENDPOINT=http://localhost:8080/v1"
            )
        return cls(
            inference_endpoint=endpoint,
            model=env.get("MODEL", "").strip() or None,
            system_prompt=env.get("SYSTEM_PROMPT", "You are a helpful, concise assistant."),
            max_tokens=_positive(env, "MAX_TOKENS", "512", int),
            request_timeout_seconds=_positive(env, "REQUEST_TIMEOUT_SECONDS", "60", float),
            port=_positive(env, "PORT", "8000", int),
            api_key_file=env.get("INFERENCE_API_KEY_FILE", "").strip() or None,
            verify_tls=env.get("INFERENCE_TLS_VERIFY", "true").strip().lower() != "false",
        )


def _positive(env: Mapping[str, str], key: str, default: str, kind: type) -> Any:
    text = env.get(key, default)
    try:
        number = kind(text)
    except ValueError:
        number = 0
    if number <= 0:
        raise ConfigurationError(f"{key} {text!r} must be a positive number, e.g. {key}={default}")
    return number


def _read_key(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise UpstreamError(
            HTTPStatus.BAD_GATEWAY, f"the API key file {path} cannot be read ({error.strerror})"
        ) from None


class UpstreamError(Exception):
    """The model endpoint failed; `status` is what the app answers (502 or 504)."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class ModelClient:
    """Talks to the OpenAI-compatible endpoint: model discovery and streamed chat completions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._discovered_model: str | None = None
        self._lock = threading.Lock()

    def list_models(self) -> list[str]:
        with self._open("GET", "/models") as response:
            body = json.load(response)
        models = [item["id"] for item in body.get("data", []) if isinstance(item, dict) and item.get("id")]
        if not models:
            raise UpstreamError(HTTPStatus.BAD_GATEWAY, "the model endpoint lists no models at /v1/models")
        return models

    def model_id(self) -> str:
        if self.settings.model:
            return self.settings.model
        with self._lock:
            if self._discovered_model is None:
                self._discovered_model = self.list_models()[0]
            return self._discovered_model

    def stream_chat(self, messages: list[dict[str, str]], max_tokens: int | None = None,
                    usage: dict[str, Any] | None = None) -> tuple[str, Iterator[str]]:
        """Start a streamed completion; errors before the first byte raise UpstreamError. With `usage`, the
        server is asked for its token counts, which land in that dict if it sends them (vLLM and llama.cpp do)."""
        model = self.model_id()
        payload: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "system", "content": self.settings.system_prompt}, *messages],
            "max_tokens": max_tokens or self.settings.max_tokens,
            "stream": True,
        }
        if usage is not None:
            payload["stream_options"] = {"include_usage": True}
        response = self._open("POST", "/chat/completions", payload)
        return model, _completion_deltas(response, self.settings.request_timeout_seconds, usage)

    def _open(self, method: str, path: str, payload: dict | None = None):
        url = self.settings.inference_endpoint + path
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "text/event-stream" if payload and payload.get("stream") else "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.settings.api_key_file:
            request.add_header("Authorization", f"Bearer {_read_key(self.settings.api_key_file)}")
        # A front door with a test (staging) certificate cannot be verified; everything else is.
        context = None if self.settings.verify_tls else ssl._create_unverified_context()  # noqa: S323
        try:
            return urllib.request.urlopen(request, timeout=self.settings.request_timeout_seconds, context=context)
        except urllib.error.HTTPError as error:
            if error.code == HTTPStatus.TOO_MANY_REQUESTS:
                raise UpstreamError(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    "the model's limit for this app is used up for now; try again in a minute",
                ) from None
            detail = error.read(2000).decode("utf-8", "replace")
            raise UpstreamError(
                HTTPStatus.BAD_GATEWAY, f"the model endpoint answered {error.code}: {_error_text(detail)}"
            ) from None
        except TimeoutError:
            raise UpstreamError(
                HTTPStatus.GATEWAY_TIMEOUT,
                f"the model endpoint did not answer within {self.settings.request_timeout_seconds:g} s",
            ) from None
        except (urllib.error.URLError, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, (TimeoutError, socket.timeout)):
                raise UpstreamError(
                    HTTPStatus.GATEWAY_TIMEOUT,
                    f"the model endpoint did not answer within {self.settings.request_timeout_seconds:g} s",
                ) from None
            raise UpstreamError(
                HTTPStatus.BAD_GATEWAY,
                f"the model endpoint {self.settings.inference_endpoint} is unreachable: {reason}",
            ) from None


def _completion_deltas(response, timeout_seconds: float, usage: dict[str, Any] | None = None) -> Iterator[str]:
    """Yield the text pieces of an OpenAI-style SSE stream until [DONE] (and keep its usage in `usage`)."""
    with response:
        for raw_line in response:
            line = raw_line.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[len("data:"):].strip()
            if data == "[DONE]":
                return
            event = json.loads(data)
            if "error" in event:
                raise UpstreamError(HTTPStatus.BAD_GATEWAY, _error_text(json.dumps(event)))
            if usage is not None and isinstance(event.get("usage"), dict):
                usage.update(event["usage"])
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece


def _error_text(body: str) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.strip()[:300] or "no detail"
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(error, dict):
        return str(error.get("message") or error)[:300]
    return str(error)[:300]


class BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_chat_request(body: bytes) -> list[dict[str, str]]:
    """The conversation the page sends: {"messages": [{"role": "user"|"assistant", "content": str}, ...]}."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "the request body is not valid JSON") from None
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list) or not messages:
        raise BadRequest(HTTPStatus.BAD_REQUEST, 'send {"messages": [{"role": "user", "content": "..."}]}')
    if len(messages) > MAX_MESSAGES:
        raise BadRequest(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the conversation has {len(messages)} messages; at most {MAX_MESSAGES}",
        )
    clean = []
    for message in messages:
        if not (isinstance(message, dict) and message.get("role") in ROLES and isinstance(message.get("content"), str)):
            raise BadRequest(
                HTTPStatus.BAD_REQUEST, 'each message needs a role ("user" or "assistant") and text content'
            )
        content = message["content"].strip()
        if not content:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "a message is empty; type something first")
        if len(content) > MAX_MESSAGE_CHARS:
            raise BadRequest(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"a message has {len(content)} characters; at most {MAX_MESSAGE_CHARS}",
            )
        clean.append({"role": message["role"], "content": content})
    if clean[-1]["role"] != "user":
        raise BadRequest(HTTPStatus.BAD_REQUEST, "the last message must be the user's")
    return clean


class ChatHandler(BaseHTTPRequestHandler):
    server_version = "kaito-aks-demo/1"
    protocol_version = "HTTP/1.1"
    client: ModelClient  # set on the subclass by make_server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle({"/": self._page, "/api/model": self._model, "/healthz": self._healthz, "/readyz": self._readyz})

    def do_POST(self) -> None:  # noqa: N802
        self._handle({"/api/chat": self._chat})

    def do_PUT(self) -> None:  # noqa: N802
        self._handle({})

    do_DELETE = do_PATCH = do_PUT

    def _handle(self, routes: dict) -> None:
        started = time.monotonic()
        self._status = 0
        self._fields: dict[str, Any] = {}
        self._request_id = self.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
        path = urllib.parse.urlsplit(self.path).path
        try:
            handler = routes.get(path)
            if handler is not None:
                handler()
            elif path in ("/", "/api/model", "/healthz", "/readyz", "/api/chat"):
                allowed = "POST" if path == "/api/chat" else "GET"
                self._json(HTTPStatus.METHOD_NOT_ALLOWED,
                           {"error": f"{self.command} is not allowed here; use {allowed}"}, {"Allow": allowed})
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})
        except BadRequest as error:
            self._json(error.status, {"error": str(error)})
        except UpstreamError as error:
            self._json(error.status, {"error": str(error)})
        except (BrokenPipeError, ConnectionResetError):
            self._fields["client_gone"] = True
        finally:
            log.info(
                json.dumps(
                    {
                        "event": "request",
                        "request_id": self._request_id,
                        "method": self.command,
                        "path": path,
                        "status": self._status,
                        "duration_ms": round((time.monotonic() - started) * 1000, 1),
                        **self._fields,
                    }
                )
            )

    def _page(self) -> None:
        body = PAGE.read_bytes()
        self._send(HTTPStatus.OK, body, "text/html; charset=utf-8")

    def _model(self) -> None:
        self._json(HTTPStatus.OK, {"model": self.client.model_id()})

    def _healthz(self) -> None:
        self._json(HTTPStatus.OK, {"status": "ok"})

    def _readyz(self) -> None:
        try:
            models = self.client.list_models()
        except UpstreamError as error:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "not ready", "error": str(error)})
            return
        self._json(HTTPStatus.OK, {"status": "ready", "models": models})

    def _chat(self) -> None:
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "send the message as a JSON body with a Content-Length")
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            raise BadRequest(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the request is {length} bytes; at most {MAX_BODY_BYTES}"
            )
        messages = parse_chat_request(self.rfile.read(length))
        self._fields.update(messages=len(messages), prompt_chars=sum(len(m["content"]) for m in messages))
        sizes = [len(m["content"]) for m in messages]
        log.debug(json.dumps({"event": "prompt", "request_id": self._request_id, "chars": sizes}))
        model, deltas = self.client.stream_chat(messages)
        self._fields["model"] = model

        self._status = HTTPStatus.OK
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Request-Id", self._request_id)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        completion_chars = 0
        try:
            for piece in deltas:
                completion_chars += len(piece)
                self._event({"delta": piece})
            self._event({"done": True, "model": model})
        except UpstreamError as error:
            self._fields["upstream_error"] = True
            self._event({"error": str(error)}, name="error")
        except (TimeoutError, ValueError, OSError) as error:
            # Headers are sent: the failure goes to the page as an SSE error event.
            self._fields["upstream_error"] = True
            reason = "stopped answering" if isinstance(error, TimeoutError) else "sent a broken stream"
            self._event({"error": f"the model endpoint {reason} mid-reply"}, name="error")
        self._fields["completion_chars"] = completion_chars

    def _event(self, payload: dict, name: str | None = None) -> None:
        prefix = f"event: {name}\n" if name else ""
        self.wfile.write(f"{prefix}data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    def _json(self, status: HTTPStatus, payload: dict, headers: dict | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: HTTPStatus, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self._status = int(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-Id", self._request_id)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Silence http.server's access log: _handle writes one JSON line per request instead."""


def make_server(settings: Settings, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    handler = type("BoundChatHandler", (ChatHandler,), {"client": ModelClient(settings)})
    server = ThreadingHTTPServer((host, settings.port), handler)
    server.daemon_threads = True
    return server


def main() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), format="%(message)s", stream=sys.stdout)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigurationError as error:
        print(f"demo_app: {error}", file=sys.stderr)
        return 2
    try:
        server = make_server(settings)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(f"demo_app: port {settings.port} is already in use; stop what listens there, or choose another "
                  f"port: PORT={settings.port + 1} python3 demo_app/app.py", file=sys.stderr)
        else:
            print(f"demo_app: cannot listen on port {settings.port}: {error.strerror}", file=sys.stderr)
        return 1
    # Kubernetes stops pods with SIGTERM: finish in-flight requests and exit cleanly.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info(json.dumps({"event": "start", "port": settings.port, "endpoint": settings.inference_endpoint}))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
