#!/usr/bin/env python3
"""A small HTTP(S) alert receiver for Vigil's tests.

It accepts what falcosidekick accepts: a POST whose body is a Falco alert in JSON with a
non-empty `rule`, a valid `priority` (Falco's names), a valid RFC 3339 `time` and non-empty
`output_fields`. Bodies sent as JSON lines (`application/x-ndjson`, Vigil's batch mode) are
checked line by line. Accepted alerts are appended to --out as JSON lines (one per alert, with
the request's headers under `_headers`), rejections to --rejected with the reason.

Usage: http_receiver.py --port-file F --out F --rejected F [--port N] [--tls-cert C --tls-key K
       [--client-ca CA]] [--delay-ms N] [--status N]
"""
import argparse
import json
import os
import re
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRIORITIES = {"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")
LOCK = threading.Lock()


def check(alert):
    if not isinstance(alert, dict):
        return "body is not a JSON object"
    if not isinstance(alert.get("rule"), str) or not alert["rule"]:
        return "missing or empty rule"
    if not isinstance(alert.get("priority"), str) or alert["priority"].lower() not in PRIORITIES:
        return "invalid priority %r" % alert.get("priority")
    t = alert.get("time")
    if not isinstance(t, str) or not TIME_RE.match(t):
        return "invalid time %r" % t
    month, day = int(t[5:7]), int(t[8:10])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return "invalid time %r" % t
    of = alert.get("output_fields")
    if not isinstance(of, dict) or not of:
        return "missing or empty output_fields"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reject(self, why):
        with LOCK, open(self.server.args.rejected, "a") as f:
            f.write(json.dumps({"reason": why, "method": self.command}) + "\n")
        self.reply(400, why)

    def do_GET(self):
        self.reject_method()

    def do_PUT(self):
        self.reject_method()

    def reject_method(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with LOCK, open(self.server.args.rejected, "a") as f:
            f.write(json.dumps({"reason": "method not allowed", "method": self.command}) + "\n")
        self.reply(405, "method not allowed")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.server.args.delay_ms:
            threading.Event().wait(self.server.args.delay_ms / 1000.0)
        if self.server.args.status != 200:
            self.reply(self.server.args.status, "configured failure")
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self.reject("body is not UTF-8")
        if ctype == "application/x-ndjson":
            lines = [l for l in text.split("\n") if l]
        elif ctype == "application/json":
            lines = [text]
        else:
            return self.reject("unexpected content type %r" % ctype)
        alerts = []
        for line in lines:
            try:
                alert = json.loads(line)
            except ValueError as e:
                return self.reject("invalid JSON: %s" % e)
            why = check(alert)
            if why:
                return self.reject(why)
            alerts.append(alert)
        if not alerts:
            return self.reject("empty body")
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK, open(self.server.args.out, "a") as f:
            for a in alerts:
                a["_headers"] = headers
                a["_batch"] = len(alerts)
                f.write(json.dumps(a) + "\n")
        self.reply(200, "ok")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--rejected", required=True)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--status", type=int, default=200)
    args = p.parse_args()
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.args = args
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    # Exit with the test process that started us, even if it dies without stopping us.
    parent = os.getppid()

    def watch_parent():
        while os.getppid() == parent:
            threading.Event().wait(0.5)
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
