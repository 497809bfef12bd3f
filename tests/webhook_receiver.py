"""A real webhook receiver on loopback (the edge of the world): records what arrives, can fail on cue."""
import http.server
import json
import threading


class Receiver:
    """Collects deliveries; `outage` answers 503 (or drops the connection) until cleared."""

    def __init__(self):
        self.received = []  # (headers dict, raw body) of every request that got through
        self.outage = False
        self.answer = 200
        self.fail_after_storing = 0  # store the event, then answer 500: the sender must retry
        self.seen_ids = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    if receiver.outage:
                        self.send_response(503)
                        self.end_headers()
                        return
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    code = receiver.answer
                    if receiver.fail_after_storing:
                        receiver.fail_after_storing -= 1
                        code = 500
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def unique_events(self):
        """What a de-duplicating receiver keeps: one body per webhook-id."""
        out = {}
        for headers, body in self.received:
            out.setdefault(headers["webhook-id"], json.loads(body))
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
