#!/usr/bin/env python3
"""A small Kubernetes API server double for Vigil's enrichment tests.

Speaks the pod list/watch protocol over HTTPS: GET /api/v1/pods (PodList, fieldSelector
spec.nodeName=X, limit/continue paging) and ?watch=1 (chunked stream of watch-event JSON
lines, resourceVersion resume, allowWatchBookmarks, timeoutSeconds, ERROR 410 when the
resourceVersion is older than the compaction point). Bearer token checked against a file
that is re-read per request (rotation).

Control: JSON lines on stdin, e.g.
  {"op":"add","pod":{...}}  {"op":"modify","pod":{...}}  {"op":"delete","uid":"..."}
  {"op":"bookmark"}  {"op":"compact"}  {"op":"drop"}  (abruptly close open watches)
  {"op":"fault","target":"list"|"watch","kind":"garbage"|"slow"|"status","status":500,"seconds":3,"count":1}
Prints "PORT <n>" when listening. Appends "METHOD PATH" per request to --log, and
"WATCH-OPEN generation=N" once a watch is registered (a "drop" closes it from then on).
"""
import argparse, json, os, signal, ssl, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Condition()
pods = {}          # uid -> pod object
history = []       # (rv, type, pod)
rv = 100
compacted = 0      # watches from an rv below this get 410
faults = {"list": [], "watch": []}
generation = 0     # bumped by "drop": open watches close abruptly
args = None


def log_request(line):
    with open(args.log, "a") as f:
        f.write(line + "\n")


def next_rv():
    global rv
    rv += 1
    return rv


def control():
    global compacted, generation
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        op = cmd["op"]
        with lock:
            if op in ("add", "modify"):
                pod = cmd["pod"]
                r = next_rv()
                pod.setdefault("metadata", {})["resourceVersion"] = str(r)
                pods[pod["metadata"]["uid"]] = pod
                history.append((r, "ADDED" if op == "add" else "MODIFIED", pod))
            elif op == "delete":
                pod = pods.pop(cmd["uid"])
                r = next_rv()
                pod["metadata"]["resourceVersion"] = str(r)
                history.append((r, "DELETED", pod))
            elif op == "bookmark":
                history.append((rv, "BOOKMARK", {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv)}}))
            elif op == "compact":
                compacted = next_rv()
            elif op == "drop":
                generation += 1
            elif op == "fault":
                for _ in range(cmd.get("count", 1)):
                    faults[cmd["target"]].append(cmd)
            lock.notify_all()
        print("OK", op, flush=True)
    os._exit(0)  # stdin closed: the test is gone


def node_of(pod):
    return pod.get("spec", {}).get("nodeName")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def status(self, code, reason, message):
        self.send_json(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": message, "reason": reason, "code": code})

    def take_fault(self, target):
        with lock:
            return faults[target].pop(0) if faults[target] else None

    def do_GET(self):
        log_request("GET " + self.path)
        with open(args.token_file) as f:
            expected = f.read().strip()
        client_cert = args.client_ca and self.connection.getpeercert()
        if not client_cert and self.headers.get("Authorization") != "Bearer " + expected:
            return self.status(401, "Unauthorized", "Unauthorized")
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path != "/api/v1/pods":
            return self.status(404, "NotFound", "the server could not find the requested resource")
        node = None
        for sel in q.get("fieldSelector", []):
            for term in sel.split(","):
                k, _, v = term.partition("=")
                if k == "spec.nodeName":
                    node = v
        watch = q.get("watch", ["0"])[0] in ("1", "true")
        fault = self.take_fault("watch" if watch else "list")
        if fault:
            if fault["kind"] == "slow":
                time.sleep(fault.get("seconds", 3))
            elif fault["kind"] == "garbage":
                body = b"<html>502 Bad Gateway</html>\n" if not watch else None
                if body:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
            elif fault["kind"] == "status":
                return self.status(fault.get("status", 500), "InternalError", "injected failure")
        if not watch:
            return self.list(q, node)
        self.watch(q, node, fault)

    def list(self, q, node):
        with lock:
            items = [p for p in pods.values() if node is None or node_of(p) == node]
            items.sort(key=lambda p: p["metadata"]["uid"])
            cur = rv
        limit = int(q.get("limit", ["0"])[0] or 0)
        start = int(q.get("continue", ["0"])[0] or 0)
        meta = {"resourceVersion": str(cur)}
        if limit and start + limit < len(items):
            meta["continue"] = str(start + limit)
            items = items[start:start + limit]
        elif limit:
            items = items[start:]
        self.send_json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, q, node, fault):
        since = int(q.get("resourceVersion", ["0"])[0] or 0)
        timeout = int(q.get("timeoutSeconds", ["300"])[0])
        bookmarks = q.get("allowWatchBookmarks", ["false"])[0] == "true"
        if fault and fault.get("kind") == "status410":
            return self.status(410, "Expired", "too old resource version")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if fault and fault["kind"] == "garbage":
            self.chunk(b'{"type":"ADDED","object":{"kind":"Pod"\n')
            self.chunk(b"\x00\x01garbage that is not json\n")
            time.sleep(0.2)
            self.chunk(b"0\r\n")  # not reached by a client that gave up
            return
        with lock:
            if since and since < compacted:
                ev = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                  "message": "too old resource version: %d (%d)" % (since, compacted),
                                                  "reason": "Expired", "code": 410}}
                self.chunk(json.dumps(ev).encode() + b"\n")
                self.wfile.write(b"0\r\n\r\n")
                return
            gen = generation
        # Registered: a "drop" from now on closes this watch (tests wait for this line before one).
        log_request("WATCH-OPEN generation=%d" % gen)
        deadline = time.time() + timeout
        pos = 0
        while True:
            with lock:
                while True:
                    pending = [h for h in history[pos:]]
                    if pending or generation != gen or time.time() >= deadline:
                        break
                    lock.wait(min(0.2, max(0.01, deadline - time.time())))
                pos = len(history)
                dropped = generation != gen
            if dropped:
                # Abrupt close: no terminating chunk.
                self.close_connection = True
                try:
                    self.connection.shutdown(2)
                except OSError:
                    pass
                return
            for (r, typ, pod) in pending:
                if r <= since and typ != "BOOKMARK":
                    continue
                if typ == "BOOKMARK":
                    if not bookmarks:
                        continue
                elif node is not None and node_of(pod) != node:
                    continue
                self.chunk(json.dumps({"type": typ, "object": pod}).encode() + b"\n")
            if time.time() >= deadline:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                return


def main():
    global args
    # The test runner may have blocked signals in the thread that spawned us.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signal.valid_signals())
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--pods", help="JSON file with initial pods (a list)")
    ap.add_argument("--client-ca", help="accept client certificates signed by this CA instead of a token")
    args = ap.parse_args()
    if args.pods:
        with open(args.pods) as f:
            for p in json.load(f):
                p.setdefault("metadata", {})["resourceVersion"] = str(next_rv())
                pods[p["metadata"]["uid"]] = p
    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # clients that give up mid-answer are part of the tests

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        ctx.load_verify_locations(args.client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=control, daemon=True).start()
    print("PORT", httpd.server_address[1], flush=True)
    try:
        httpd.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
