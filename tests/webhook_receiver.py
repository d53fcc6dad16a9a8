"""A webhook receiver for the end-to-end tests: every delivery is checked with the reference verifier
(the `standardwebhooks` package from PyPI), not with the service's own code.

Run: `.venv/bin/python tests/webhook_receiver.py`; it listens on 127.0.0.1 (a free port) and prints
`PORT <n>` on its first line. Control endpoints (JSON):

- `POST /_control/path` `{"path": "/a", "secrets": ["whsec_..."], "script": ["500", "429:2", "hang:5",
  "close", "410", "302"], "then": "200"}`: how `path` answers. The n-th attempt of a webhook-id gets
  `script[n]`; once the script is used up, `then`. `429:s` sends `Retry-After: s`; `hang:s` waits s
  seconds before answering 200; `close` drops the connection without an answer.
- `GET /_control/log`: every request received, in order: path, headers, body, which of the path's
  secrets verified it (indexes; empty = not verified), the verifier's error, the attempt number for
  its id, the action taken and the time received.
"""

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

LOCK = threading.Lock()
PATHS = {}
LOG = []
SEEN = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status, value):
        self._reply(status, json.dumps(value).encode(), [("Content-Type", "application/json")])

    def do_GET(self):
        if self.path == "/_control/log":
            with LOCK:
                self._json(200, list(LOG))
        else:
            self._reply(404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/_control/path":
            cfg = json.loads(body)
            with LOCK:
                PATHS[cfg["path"]] = cfg
            self._json(200, {"ok": True})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        msg_id = headers.get("webhook-id", "")
        with LOCK:
            cfg = PATHS.get(self.path, {"secrets": [], "script": [], "then": "200"})
            n = SEEN.get((self.path, msg_id), 0)
            SEEN[(self.path, msg_id)] = n + 1
        verified, errors = [], []
        for i, secret in enumerate(cfg.get("secrets", [])):
            try:
                Webhook(secret).verify(body, headers)
                verified.append(i)
            except Exception as e:  # the reference verifier's verdict, recorded for the test
                errors.append(f"{type(e).__name__}: {e}")
        script = cfg.get("script", [])
        action = script[n] if n < len(script) else cfg.get("then", "200")
        entry = {
            "path": self.path,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "verified_by": verified,
            "errors": errors,
            "attempt": n + 1,
            "action": action,
            "received_at": time.time(),
        }
        with LOCK:
            LOG.append(entry)
        if action == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if action.startswith("hang:"):
            time.sleep(float(action.split(":", 1)[1]))
            action = "200"
        if action.startswith("429:"):
            self._reply(429, b'{"error":"slow down"}', [("Retry-After", action.split(":", 1)[1])])
            return
        status = int(action)
        extra = [("Location", "https://example.com/elsewhere")] if 300 <= status < 400 else []
        self._reply(status, json.dumps({"received": msg_id, "status": status}).encode(), extra)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
