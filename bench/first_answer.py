"""How long a newcomer waits: the README's literal ``make run`` until 「结婚登记要带什么材料」 is answered.

Two times are taken from the moment ``make run`` starts: the first answer with a citation (a search answer
while the dialogue model trains in the background), and the first answer from the dialogue itself.

    python3 bench/first_answer.py                 # clone this commit afresh (no virtualenvs), measure it,
                                                  # then once more in the same clone with the virtualenvs
                                                  # there and ./var removed; writes bench/FIRST_ANSWER.md
    python3 bench/first_answer.py --here --check  # CI (.ci/run): `make run` in this checkout, until it
                                                  # answers from the dialogue; exit 1 if not in time

Runs with the system Python only (it must work before any virtualenv exists).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "结婚登记要带什么材料"
PORT = 8000  # `make run`'s default: the command is run literally


def ask(session: str) -> dict[str, object] | None:
    body = json.dumps({"session": session, "text": QUESTION}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}/api/chat", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return dict(json.loads(resp.read()))
    except (OSError, ValueError):
        return None


def cited(reply: dict[str, object] | None) -> bool:
    messages = reply.get("messages") if reply else None
    return isinstance(messages, list) and any(m.get("citations") for m in messages if isinstance(m, dict))


def measure(clone: Path, timeout: float, log: Path) -> dict[str, float | None]:
    """Start `make run` in ``clone``; seconds to the first cited answer and to the first dialogue answer."""
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(["make", "run"], cwd=clone, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    first = dialogue = None
    try:
        n = 0
        while time.monotonic() - started < timeout and proc.poll() is None:
            n += 1
            reply = ask(f"first-answer-{n}")
            now = time.monotonic() - started
            if cited(reply) and first is None:
                first = now
                print(f"  first answer ({reply.get('mode') if reply else '?'}) after {now:.0f} s", flush=True)
            if cited(reply) and reply and reply.get("mode") == "dialogue":
                dialogue = now
                print(f"  dialogue answer after {now:.0f} s", flush=True)
                break
            time.sleep(1.0)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    return {"first_answer_s": first, "dialogue_s": dialogue, "exit": proc.returncode}


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--here", action="store_true", help="run in this checkout instead of a fresh clone")
    parser.add_argument("--check", action="store_true", help="exit 1 unless the dialogue answered in time")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "FIRST_ANSWER.md")
    args = parser.parse_args()
    if args.here:
        log = Path(tempfile.mkdtemp(prefix="civic-make-run-")) / "make-run.log"
        result = measure(ROOT, args.timeout, log)
        print(json.dumps(result))
        if result["dialogue_s"] is None:
            print(log.read_text(errors="replace")[-4000:])
        return 0 if (result["dialogue_s"] is not None or not args.check) else 1
    work = Path(tempfile.mkdtemp(prefix="civic-first-answer-"))
    os.environ["UV_CACHE_DIR"] = str(work / "uv-cache")  # a cold cache: the packages come from the index
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True,
                            text=True, check=True).stdout.strip()
    load = [round(x, 2) for x in os.getloadavg()]
    print("fresh clone, no virtualenvs:", flush=True)
    fresh = measure(clone, args.timeout, work / "fresh.log")
    shutil.rmtree(clone / "var", ignore_errors=True)
    print("same clone, virtualenvs there, ./var removed:", flush=True)
    again = measure(clone, args.timeout, work / "again.log")
    lines = (work / "fresh.log").read_text(errors="replace").splitlines()
    setup = [line for line in lines if "ready in" in line]
    report = f"""# First answer after `make run`

Measured {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} on {os.cpu_count()} cores, Python
{sys.version.split()[0]}, commit {commit}; load average at start {load}.

Command: `python3 bench/first_answer.py` (`make bench-first-answer`): `git clone` of this repository, then the
README's literal `make run`, asking 「{QUESTION}」 every second through `POST /api/chat` until the answer
carries a citation (first answer) and until it comes from the dialogue (`"mode": "dialogue"`).

| run | first cited answer | answer from the dialogue | target (first answer) |
|---|---|---|---|
| fresh clone, no virtualenvs | {fmt(fresh["first_answer_s"])} | {fmt(fresh["dialogue_s"])} | ≤ 4 min |
| virtualenvs there, `./var` removed | {fmt(again["first_answer_s"])} | {fmt(again["dialogue_s"])} | ≤ 90 s |

Virtualenv set-up in the fresh run: {"; ".join(s.strip() for s in setup) or "see the log"}.
The first answer is a search answer (「智能对话正在启动，以下是检索结果」) while the model trains in the
background; the dialogue answer comes once the engine has loaded the model it trained.
"""
    args.out.write_text(report, encoding="utf-8")
    print(report)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
