#!/usr/bin/env python3
"""A small HTTP server for the compat cases: serves DIR, plus /status/N, /json,
/echo (POST or GET: the request back as JSON) and /redirect. It picks a free port
on 127.0.0.1 and writes it to PORTFILE. Usage: http_server.py DIR PORTFILE"""
import http.server, json, os, sys

root, portfile = sys.argv[1], sys.argv[2]


class Handler(http.server.SimpleHTTPRequestHandler):
    server_version = "compat"
    sys_version = ""

    def __init__(self, *a, **kw):
        super().__init__(*a, directory=root, **kw)

    def log_message(self, *a):
        pass

    def date_time_string(self, timestamp=None):
        return "Thu, 01 Jan 2026 00:00:00 GMT"

    def send_json(self, code, value):
        body = json.dumps(value, sort_keys=True).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def echo(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        self.send_json(200, {"method": self.command, "body": body,
                             "content_type": self.headers.get("Content-Type")})

    def do_POST(self):
        self.echo()

    def do_GET(self):
        if self.path.startswith("/status/"):
            return self.send_json(int(self.path.split("/")[2]), {"status": self.path})
        if self.path == "/json":
            return self.send_json(200, {"a": 1, "list": [1, 2], "s": "x"})
        if self.path == "/echo":
            return self.echo()
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/json")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def end_headers(self):
        # No Last-Modified: the files are written a moment apart for each tool.
        self._headers_buffer = [h for h in self._headers_buffer if not h.startswith(b"Last-Modified")]
        super().end_headers()


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = portfile + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, portfile)
srv.serve_forever()
