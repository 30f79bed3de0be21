#!/usr/bin/env python3
"""A stand-in for `.venv-rasa/bin/rasa` that speaks just enough of its CLI and HTTP API for fast
supervisor and training tests (the real engine is exercised in test_stack.py).

  fake_rasa.py train --config C --domain D --data P... --out DIR   writes DIR/<stamp>.tar.gz
  fake_rasa.py run --auth-token T -i HOST -p PORT -m MODEL ...      serves /status and the REST webhook
FAKE_RASA_FAIL=1 makes `train` fail.
"""

import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


def arg(name: str, default: str = "") -> str:
    # parsed like the real engine (argparse): "--auth-token -abc" is an error there, "--auth-token=-abc" not
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(name, default=default)
    return str(getattr(parser.parse_known_args(sys.argv[2:])[0], name.lstrip("-").replace("-", "_")))


def train() -> int:
    if os.environ.get("FAKE_RASA_FAIL"):
        print("fake rasa: training failed", flush=True)
        return 1
    out = Path(arg("--out"))
    out.mkdir(parents=True, exist_ok=True)
    for epoch in range(3):
        print(f"Epochs: {epoch + 1}/3", flush=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9}.tar.gz"
    (out / name).write_bytes(b"fake model")
    print(f"Your Rasa model is trained and saved at '{out / name}'.", flush=True)
    return 0


def run() -> int:
    token, model = arg("--auth-token"), Path(arg("-m")).name

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path != "/status":
                return self.reply(404, {})
            if parse_qs(url.query).get("token") != [token]:
                return self.reply(401, {"reason": "NotAuthenticated"})
            return self.reply(200, {"model_file": model, "model_id": "fake"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            self.reply(200, [{"recipient_id": body["sender"], "text": "fake:" + body["message"]}])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((arg("-i", "127.0.0.1"), int(arg("-p", "5005"))), Handler)
    print(f"fake rasa serving {model} with endpoints {arg('--endpoints')}", flush=True)
    print("tracker db " + os.environ.get("CIVIC_TRACKER_DB", "?"), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit({"train": train, "run": run}[sys.argv[1]]())
