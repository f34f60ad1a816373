"""A small OpenAI-compatible server on loopback, scripted per test (models, streaming, failures)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Script:
    models: list[str] = field(default_factory=lambda: ["fake-model"])
    reply_pieces: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    delay_seconds: float = 0.0
    chat_status: int = 200
    break_stream_after: int | None = None
    send_usage: bool = False
    """Answer stream_options.include_usage with a final usage chunk (as vLLM and llama.cpp do)."""
    requests: list[dict] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)


class FakeOpenAI:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        script_ref = self.script

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                script_ref.authorizations.append(self.headers.get("Authorization"))
                if self.path != "/v1/models":
                    return self._json(404, {"error": {"message": "not found"}})
                time.sleep(script_ref.delay_seconds)
                self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in script_ref.models]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                script_ref.requests.append(body)
                script_ref.authorizations.append(self.headers.get("Authorization"))
                time.sleep(script_ref.delay_seconds)
                if script_ref.chat_status != 200:
                    return self._json(script_ref.chat_status, {"error": {"message": "model exploded"}})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for index, piece in enumerate(script_ref.reply_pieces):
                    if script_ref.break_stream_after is not None and index == script_ref.break_stream_after:
                        self.wfile.write(b"data: {not json\n\n")
                        self.wfile.flush()
                        return
                    chunk = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                if script_ref.send_usage and (body.get("stream_options") or {}).get("include_usage"):
                    usage = {"prompt_tokens": 12, "completion_tokens": len(script_ref.reply_pieces) * 2,
                             "total_tokens": 12 + len(script_ref.reply_pieces) * 2}
                    self.wfile.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.005}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
