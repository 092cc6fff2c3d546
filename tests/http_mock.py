"""A small HTTP server on 127.0.0.1 for tests that check what the portal sends to other services."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RecordingServer:
    """Records each request and answers with the next queued (status, body), default 200."""

    def __init__(self):
        self.requests: list[dict] = []
        self.responses: list[tuple[int, dict | str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                server.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "raw": raw,
                    }
                )
                status, payload, headers = (
                    server.responses.pop(0) if server.responses else (200, {"ok": True}, {})
                )
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
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def respond(self, status: int, payload: dict | str | None = None, headers=None, times: int = 1):
        for _ in range(times):
            self.responses.append((status, payload if payload is not None else {}, headers or {}))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
