#!/usr/bin/env python3
"""A stand-in for `.venv-rasa/bin/rasa` that speaks just enough of its CLI and HTTP API for fast
supervisor and training tests (the real engine is exercised in test_stack.py).

  fake_rasa.py train --config C --domain D --data P... --out DIR   writes DIR/<stamp>.tar.gz
  fake_rasa.py run --auth-token T -i HOST -p PORT -m MODEL ...      serves /status, PUT /model and the
                                                                    civic and REST webhooks
FAKE_RASA_FAIL=1 makes `train` fail; FAKE_RASA_TRAIN_SECONDS=N makes it take N seconds (it prints the
component and epoch lines `rasa train` prints, so the progress file follows it).
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
    seconds = float(os.environ.get("FAKE_RASA_TRAIN_SECONDS") or 0)
    print("INFO rasa.engine.training.hooks  - Starting to train component 'TEDPolicy'.", flush=True)
    for epoch in range(3):
        time.sleep(seconds / 3)
        print(f"Epochs: {epoch + 1}/3", flush=True)
    name = f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9}.tar.gz"
    (out / name).write_bytes(b"fake model")
    print(f"Your Rasa model is trained and saved at '{out / name}'.", flush=True)
    return 0


def run() -> int:
    token = arg("--auth-token") or os.environ.get("CIVIC_RASA_AUTH_TOKEN", "")  # as engine/launch.py
    given = Path(arg("-m"))
    models = sorted(given.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime) if given.is_dir() else [given]
    loaded = {"model": models[-1].name if models else ""}

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authorised(self) -> bool:
            if parse_qs(urlparse(self.path).query).get("token") != [token]:
                self.reply(401, {"reason": "NotAuthenticated"})
                return False
            return True

        def do_GET(self) -> None:
            if urlparse(self.path).path != "/status":
                return self.reply(404, {})
            if self.authorised():
                self.reply(200, {"model_file": loaded["model"], "model_id": "fake"})

        def do_PUT(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if urlparse(self.path).path == "/model" and self.authorised():
                loaded["model"] = Path(body["model_file"]).name
                print(f"fake rasa loaded {loaded['model']}", flush=True)
                self.send_response(204)
                self.end_headers()

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            messages = [{"recipient_id": body["sender"], "text": "fake:" + body["message"]}]
            if urlparse(self.path).path == "/webhooks/civic/webhook":
                return self.reply(200, {"messages": messages, "intent": {"name": "greet", "confidence": 1.0},
                                        "events": 3, "form": {"name": None, "requested_slot": None}})
            self.reply(200, messages)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((arg("-i", "127.0.0.1"), int(arg("-p", "5005"))), Handler)
    print(f"fake rasa serving {loaded['model']} with endpoints {arg('--endpoints')}", flush=True)
    print("tracker db " + os.environ.get("CIVIC_TRACKER_DB", "?"), flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit({"train": train, "run": run}[sys.argv[1]]())
