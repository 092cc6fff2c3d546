"""A small HTTP server on 127.0.0.1 for tests that check what the portal sends to other services."""

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


class RecordingServer:
    """Records each request and responds with the next queued (status, body, headers).

    Responses queued for the request's path with `respond_to` come first, then those queued with
    `respond`, then `default(request)` when given, else 200 {"ok": true}. A form-encoded body is
    recorded as a dict, with the query string's fields merged in.
    """

    def __init__(self, default: Callable[[dict], tuple[int, dict | str, dict]] | None = None):
        self.requests: list[dict] = []
        self.responses: list[tuple[int, dict | str, dict]] = []
        self.path_responses: dict[str, list[tuple[int, dict | str, dict]]] = {}
        self.default = default
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                content_type = self.headers.get("Content-Type", "")
                if content_type.startswith("application/x-www-form-urlencoded"):
                    body = dict(parse_qsl(url.query)) | dict(parse_qsl(raw.decode()))
                else:
                    try:
                        body = json.loads(raw) if raw else dict(parse_qsl(url.query)) or None
                    except ValueError:
                        body = raw.decode(errors="replace")
                request = {
                    "method": self.command,
                    "path": url.path,
                    "headers": dict(self.headers),
                    "body": body,
                    "raw": raw,
                }
                server.requests.append(request)
                return request

            def _answer(self):
                request = self._record()

                queued = server.path_responses.get(request["path"])
                if queued:
                    status, payload, headers = queued.pop(0)
                elif server.responses:
                    status, payload, headers = server.responses.pop(0)
                elif server.default is not None:
                    status, payload, headers = server.default(request)
                else:
                    status, payload, headers = 200, {"ok": True}, {}

                encoded = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(encoded)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, format, *args):  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll interval keeps shutdown, and so each test, fast.
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def respond(self, status: int, payload: dict | str | None = None, headers=None, times: int = 1):
        for _ in range(times):
            self.responses.append((status, payload if payload is not None else {}, headers or {}))

    def respond_to(
        self,
        path: str,
        status: int,
        payload: dict | str | None = None,
        headers=None,
        times: int = 1,
    ):
        queue = self.path_responses.setdefault(path, [])
        for _ in range(times):
            queue.append((status, payload if payload is not None else {}, headers or {}))

    def requests_to(self, path: str) -> list[dict]:
        return [request for request in self.requests if request["path"] == path]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
