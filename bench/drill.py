"""``make drill``: faults on the real stack, written to bench/DRILL.md (issue 16, part 2).

Each drill is a function returning a :class:`Drill` (its figures and whether it passed); the tests in
tests/drill/ run the same functions against a module's stack.  The load, the citizens and the exactly-once
ledger are bench/load.py's.

- **engine SIGKILL under load**: web chat and REST citizens keep talking while the engine is killed; the
  messages of the outage are answered from search (``app/standby.py``), none lost or doubled; the supervisor
  restarts the engine and a conversation begun before the kill goes on in the dialogue (its service still
  in context, from the SQL tracker store).
- **app SIGKILL**: the supervisor restarts the app; a web chat citizen with one message in flight and two
  typed while the app was down reconnects and sends its outbox (the same keys, as app/static/chat.js does)
  — one reply per key; a hotline stream resumes from its last acked seq.
- **locked archive** (another process holds the write lock), **read-only archive** (a read-only bind
  mount over archive.db) and **full disk** (the home on a small tmpfs, filled): the chat goes on or fails
  with a clear error, ``civic import`` says what is wrong, and ``PRAGMA integrity_check`` is ``ok`` after.

    .venv/bin/python -m bench.drill        # every drill, on a copy of $CIVIC_TEST_TRAINED_HOME/home
    .venv/bin/python -m bench.drill --only engine,app --out /tmp/drill.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.dialogue import machine
from bench.load import (
    Ledger,
    Load,
    Sent,
    WsCitizen,
    client_sessions,
    default_home,
    history_check,
    source_ips,
    wait_dialogue,
)
from bench.report import write_report
from bench.stack import CIVIC, Stack, copy_home, start_stack
from core.settings import REPO_ROOT, Settings, load_settings

Log = Callable[[str], None]
RESTART_TIMEOUT = 420.0  # a killed engine loads TensorFlow and the model again on a busy 2-core machine
CONTEXT_QUESTION, CONTEXT_FOLLOW_UP, SERVICE = "孩子刚出生上户口要带啥", "那要多少钱？", "新生儿出生登记"
# another process holding archive.db's write lock (as an import or a backup in progress would)
HOLD_WRITE_LOCK = ("import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
                   "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(120)")
CALLER_LINES = ("你好我想问一下结婚登记", "需要带什么材料", "户口本和身份证都要带吗", "在哪里办理",
                "周末可以办吗", "要不要预约", "大概多久能办好", "好的谢谢")


@dataclass
class Drill:
    name: str
    ok: bool
    figures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, value: Any) -> None:
        self.figures.append((what, str(value)))


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of an SQLite file ("ok" when sound)."""
    db = sqlite3.connect(str(path), timeout=30)
    try:
        return "; ".join(str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall())
    finally:
        db.close()


async def post_chat(http: aiohttp.ClientSession, url: str, session: str, text: str) -> tuple[int, Any]:
    async with http.post(url + "api/chat", json={"session": session, "text": text},
                         timeout=aiohttp.ClientTimeout(total=90)) as resp:
        return resp.status, await resp.json(content_type=None)


def texts(reply: Any) -> str:
    return " ".join(str(m.get("text") or "") for m in (reply or {}).get("messages") or [])


async def wait_for(probe: Callable[[], Any], timeout: float, what: str) -> float:
    """Poll the blocking ``probe`` (off the loop) until it is true; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if await asyncio.to_thread(probe):
                return time.monotonic() - started
        except OSError:
            pass
        await asyncio.sleep(0.5)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def exactly_once(drill: Drill, ledger: Ledger, settings: Settings) -> bool:
    history = history_check(settings, ledger)
    lost, doubled, errors = ledger.lost(), ledger.doubled(), ledger.errors()
    drill.add("messages sent", len(ledger.sent))
    drill.add("lost / doubled / errors", f"{len(lost)} / {len(doubled)} / {len(errors)}")
    drill.add("app.db history: WebSocket ids missing / REST sessions mismatched",
              f"{history['ws_missing']} / {history['rest_sessions_mismatched']}")
    for e in Counter(m.error[:160] for m in errors).most_common(5):
        drill.notes.append(f"error {e[1]} x: {e[0]}")
    return not (lost or doubled or errors or history["ws_missing"] or history["rest_sessions_mismatched"])


# -- engine SIGKILL under load -------------------------------------------------------------------------
async def engine_kill(stack: Stack, settings: Settings, log: Log, slots: int = 10) -> Drill:
    drill = Drill("engine SIGKILL under load", False)
    await wait_dialogue(stack.url)
    ledger = Ledger()
    sessions = client_sessions(source_ips(5))
    load = Load(stack.url, ledger, sessions, think=(0.5, 2.0))
    running = asyncio.create_task(load.run(slots, 3600))
    try:
        async with aiohttp.ClientSession() as http:
            ctx = f"drill-ctx-{uuid.uuid4().hex[:8]}"
            status, first = await post_chat(http, stack.url, ctx, CONTEXT_QUESTION)
            await asyncio.sleep(10)
            engine = int(stack.state()["children"]["engine"])
            os.kill(engine, signal.SIGKILL)
            killed_at = ledger.now()
            log(f"engine {engine} killed at {killed_at:.0f} s under {slots} sessions")
            healthy = await wait_for(lambda: stack.health()[0] == 200, RESTART_TIMEOUT, "the engine")
            await wait_dialogue(stack.url, 120)
            back_at = ledger.now()
            log(f"dialogue again {back_at - killed_at:.0f} s after the kill")
            status2, after = await post_chat(http, stack.url, ctx, CONTEXT_FOLLOW_UP)
            await asyncio.sleep(15)  # the conversations go on after the restart
    finally:
        load.until = 0
        await running
        for s in sessions:
            await s.close()
    new_engine = stack.state()["children"].get("engine")
    outage = [m for m in ledger.sent.values() if killed_at <= m.at < back_at and m.kind != "connect"]
    modes = Counter(m.mode or "-" for m in outage)
    after_kill = [m for m in ledger.sent.values() if m.at >= back_at]
    drill.add("engine restarted (old pid -> new pid)", f"{engine} -> {new_engine}")
    drill.add("kill -> /healthz 200 / -> dialogue answers", f"{healthy:.0f} s / {back_at - killed_at:.0f} s")
    drill.add("messages during the outage, by who answered", dict(modes))
    drill.add("messages after the restart, by who answered", dict(Counter(m.mode for m in after_kill)))
    late = Counter(m.kind for m in after_kill if m.mode == "search")
    if late:  # a status check begun during the outage is finished by the app's own check (app/standby.py)
        drill.notes.append(f"answered by search after the restart: {dict(late)} — the phone-digits step of a "
                           "status check the standby began during the outage is finished by the standby")
    context_ok = (status == 200 and SERVICE in texts(first) and status2 == 200
                  and after.get("mode") == "dialogue" and SERVICE in texts(after))
    drill.add(f"conversation begun before the kill: 「{CONTEXT_FOLLOW_UP}」 after it",
              f"{after.get('mode')}, names {SERVICE}: {SERVICE in texts(after)}")
    once = exactly_once(drill, ledger, settings)
    drill.ok = (once and context_ok and new_engine not in (None, engine) and modes.get("search", 0) > 0
                and bool(after_kill) and all(m.mode in ("dialogue", "paused") or m.kind.startswith("status")
                                             for m in after_kill))
    return drill


# -- app SIGKILL: web chat outbox and hotline resume ---------------------------------------------------
async def hotline_send(ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any]) -> dict[str, Any]:
    """Send one frame; the ack (or error) that answers it (suggestion frames are skipped)."""
    await ws.send_json(frame)
    while True:
        data = await asyncio.wait_for(ws.receive_json(), 60)
        if data.get("type") in ("ack", "error"):
            return dict(data)


def segment(call: str, seq: int) -> dict[str, Any]:
    return {"type": "segment", "call_id": call, "seq": seq, "speaker": "caller", "text": CALLER_LINES[seq],
            "is_final": True, "start_ms": seq * 3000, "end_ms": seq * 3000 + 2500}


async def app_kill(stack: Stack, settings: Settings, hotline_token: str, log: Log) -> Drill:
    drill = Drill("app SIGKILL: web chat outbox, hotline resume", False)
    await wait_dialogue(stack.url)
    ledger = Ledger()
    auth = {"Authorization": f"Bearer {hotline_token}"}
    ws_url = stack.url.replace("http", "ws", 1)
    async with aiohttp.ClientSession() as http:
        citizen = WsCitizen(http, stack.url, ledger)
        await citizen.open()
        await citizen.say("guide", "结婚登记要带什么材料")
        call = f"drill-{uuid.uuid4().hex[:8]}"
        hotline = await http.ws_connect(ws_url + "api/hotline/stream", headers=auth)
        started = await hotline_send(hotline, {"type": "start", "call_id": call})
        acks = [await hotline_send(hotline, segment(call, seq)) for seq in range(4)]
        last_acked = max(int(a["seq"]) for a in acks if a.get("type") == "ack")
        # one message in flight when the app dies, two typed while it is down (the outbox)
        in_flight = ledger.add(citizen.session, "ws", "follow-up", "那要多少钱？")
        assert citizen.ws is not None
        await citizen.ws.send_json({"type": "message", "key": in_flight.id, "text": in_flight.text})
        app = int(stack.state()["children"]["app"])
        os.kill(app, signal.SIGKILL)
        t0 = time.monotonic()
        log(f"app {app} killed; a message in flight, two queued")
        queued = [ledger.add(citizen.session, "ws", "guide", "居住证怎么办理"),
                  ledger.add(citizen.session, "ws", "follow-up", "在哪里办")]
        await citizen.close(0)
        again = WsCitizen(http, stack.url, ledger)
        again.user, again.session = citizen.user, citizen.session  # the same browser: its session id
        attempts = 0
        while True:
            attempts += 1
            try:
                await again.open()
                break
            except (aiohttp.ClientError, OSError):
                if time.monotonic() - t0 > RESTART_TIMEOUT:
                    raise
                await asyncio.sleep(0.5)
        reconnected = time.monotonic() - t0
        outbox: list[Sent] = [m for m in (in_flight, *queued) if m.replies == 0]
        for msg in outbox:  # the same keys again, in order, as chat.js's flush() does
            await again.send(msg)
        await again.close()
        # the hotline's ASR side reconnects and resumes from its last acked seq
        hotline2 = await http.ws_connect(ws_url + "api/hotline/stream", headers=auth)
        restarted = await hotline_send(hotline2, {"type": "start", "call_id": call})
        resumed = [await hotline_send(hotline2, segment(call, seq))
                   for seq in range(last_acked, len(CALLER_LINES))]
        await hotline.close()
        async with http.post(f"{stack.url}api/hotline/calls/{call}/end", headers=auth) as resp:
            order = await resp.json(content_type=None)
            end_status = resp.status
        await hotline2.close()
    new_app = stack.state()["children"].get("app")
    drill.add("app restarted (old pid -> new pid)", f"{app} -> {new_app}")
    drill.add("kill -> the web chat's socket reconnects", f"{reconnected:.1f} s ({attempts} attempts)")
    drill.add("in flight at the kill: answered before it died / re-sent after",
              f"{'no' if in_flight in outbox else 'yes'} / {'yes' if in_flight in outbox else 'no'}")
    drill.add("outbox re-sent after the reconnect (keys)", len(outbox))
    drill.add("replies per key", dict(Counter(m.replies for m in ledger.sent.values())))
    once = exactly_once(drill, ledger, settings)
    statuses = [a.get("status") for a in resumed]
    drill.add("hotline: acked before the kill", f"start {started.get('status')}, seq 0-{last_acked}")
    drill.add(f"hotline: after the restart, start + seq {last_acked}-{len(CALLER_LINES) - 1}",
              f"start {restarted.get('status')}, acks {statuses}")
    transcript = order.get("transcript") or []
    drill.add("hotline: the work order's transcript (segments)",
              f"{len(transcript)} of {len(CALLER_LINES)} (HTTP {end_status})")
    if len(transcript) < len(CALLER_LINES):
        drill.notes.append(f"the work order lost segments acked before the kill (seq 0-{last_acked - 1}): "
                           "the call journal (connectors/hotline_journal.py) should have kept them")
    # every acked segment survives the kill: the call journal writes each one before its ack
    hotline_ok = (restarted.get("status") == "started" and all(s in ("new", "duplicate") for s in statuses)
                  and end_status == 200 and len(transcript) == len(CALLER_LINES))
    drill.ok = once and hotline_ok and new_app not in (None, app)
    return drill


# -- the archive locked, read-only; the disk full -----------------------------------------------------------
def drill_doc(path: Path, doc_id: str) -> Path:
    """One valid guide to import: the demo's first guide under a new id."""
    record = json.loads((REPO_ROOT / "archive" / "demo" / "guides.jsonl").read_text("utf-8").splitlines()[0])
    record.update(id=doc_id, title=record["title"] + "（演练）")
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def civic_import(home: Path, doc: Path) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run([str(CIVIC), "--home", str(home), "import", str(doc)], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=180, check=False)
    out = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode, (out[-1] if out else ""), time.monotonic() - started


async def chat_round(url: str, n: int = 3) -> list[int]:
    async with aiohttp.ClientSession() as http:
        return [(await post_chat(http, url, f"drill-db-{uuid.uuid4().hex[:8]}", "结婚登记要带什么材料"))[0]
                for _ in range(n)]


async def locked_archive(stack: Stack, log: Log) -> Drill:
    drill = Drill("archive locked by another process", False)
    db = stack.home / "archive.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        chats = await chat_round(stack.url)
        rc, message, took = await asyncio.to_thread(civic_import, stack.home,
                                                    drill_doc(stack.home / "drill-lock.jsonl", "DRILL-LOCK"))
    finally:
        holder.kill()
        holder.wait()
    rc2, message2, _ = await asyncio.to_thread(civic_import, stack.home, stack.home / "drill-lock.jsonl")
    check = integrity(db)
    drill.add("chat while locked (HTTP statuses)", chats)
    drill.add("`civic import` while locked", f"exit {rc} after {took:.0f} s: {message}")
    drill.add("`civic import` after the lock is released", f"exit {rc2}: {message2}")
    drill.add("PRAGMA integrity_check (archive.db)", check)
    drill.ok = (chats == [200] * len(chats) and rc != 0 and "locked" in message and "Traceback" not in message
                and rc2 == 0 and check == "ok")
    return drill


async def readonly_archive(stack: Stack, log: Log) -> Drill:
    drill = Drill("archive read-only", False)
    db = stack.home / "archive.db"
    doc = drill_doc(stack.home / "drill-ro.jsonl", "DRILL-RO")
    mounted = subprocess.run(["mount", "--bind", str(db), str(db)], capture_output=True, text=True)
    if mounted.returncode == 0:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(db)], check=True)
        how = "a read-only bind mount over archive.db"
    else:  # no mount: the file mode (as root this does not stop writes; the drill then says so)
        db.chmod(0o444)
        how = f"chmod 444 (mount refused: {mounted.stderr.strip()[:100]})"
    try:
        chats = await chat_round(stack.url)
        rc, message, _ = await asyncio.to_thread(civic_import, stack.home, doc)
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", str(db)], check=True)
        else:
            db.chmod(0o644)
    check = integrity(db)
    drill.add("how", how)
    drill.add("chat while read-only (HTTP statuses)", chats)
    drill.add("`civic import` while read-only", f"exit {rc}: {message}")
    drill.add("PRAGMA integrity_check (archive.db)", check)
    drill.notes.append("the running app keeps the file it opened before the mount, so its own archive writes "
                       "(admin edits) are not refused by this drill; a new process (the CLI) is")
    drill.ok = chats == [200] * len(chats) and rc != 0 and "read-only" in message and check == "ok"
    return drill


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


async def full_disk(source: Path, work: Path, log: Log, spare_mb: int = 48) -> Drill:
    """The home on a small tmpfs, its own stack; the tmpfs filled, chat and import tried, space freed."""
    drill = Drill("disk full", False)
    disk = work / "disk"
    disk.mkdir(parents=True, exist_ok=True)
    size = int(du_mb(source) + spare_mb)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        drill.notes.append(f"mount refused ({mounted.stderr.strip()[:100]}): not measured")
        return drill
    stack = None
    try:
        home = copy_home(source, disk / "home")
        stack = await asyncio.to_thread(start_stack, home, work)
        await wait_dialogue(stack.url)
        before = await chat_round(stack.url, 1)
        filler = disk / "filler"
        with filler.open("wb") as f:  # until the kernel says no
            try:
                while True:
                    f.write(b"\0" * 2**20)
                    f.flush()
            except OSError as exc:
                drill.add("disk filled", f"{du_mb(disk):.0f} MiB of {size} MiB ({exc.strerror})")
        async with aiohttp.ClientSession() as http:
            full = [await post_chat(http, stack.url, f"drill-full-{i}", "结婚登记要带什么材料")
                    for i in range(3)]
            citizen = WsCitizen(http, stack.url, Ledger())
            await citizen.open()
            ws_msg = await citizen.say("guide", "居住证怎么办理")
            await citizen.close(0)
        rc, message, _ = await asyncio.to_thread(civic_import, home, drill_doc(work / "drill-full.jsonl",
                                                                               "DRILL-FULL"))
        filler.unlink()
        after = await chat_round(stack.url, 2)
        drill.add("chat before (HTTP)", before)
        drill.add("chat with the disk full (HTTP status: message)",
                  "; ".join(f"{s}: {str(b.get('error') or texts(b))[:120]}" for s, b in full))
        drill.add("web chat with the disk full", ws_msg.error or f"answered ({ws_msg.mode})")
        drill.add("`civic import` with the disk full", f"exit {rc}: {message}")
        drill.add("chat after space is freed (HTTP)", after)
    finally:
        if stack is not None:
            stack.stop()
        checks = {name: integrity(disk / "home" / name) for name in ("archive.db", "app.db")
                  if (disk / "home" / name).exists()}
        subprocess.run(["umount", "-l", str(disk)], check=False)
    drill.add("PRAGMA integrity_check after", checks)
    clear = all(s == 200 or (s == 503 and "disk is full" in str(b.get("error"))) for s, b in full)
    clear = clear and ws_msg.error in ("", "error frame unavailable")  # the page says 「暂时无法回答」
    drill.ok = (clear and rc != 0 and "full" in message and after == [200] * len(after)
                and set(checks.values()) == {"ok"})
    return drill


# -- the report ----------------------------------------------------------------------------------------
def render(meta: dict[str, Any], drills: list[Drill]) -> str:
    lines = ["# Drill: faults on the real stack", "",
             f"Run {meta['date']} on {meta['nproc']} cores ({meta['cpu']}), commit {meta['commit']}"
             f"{' (with uncommitted changes)' if meta['dirty'] else ''}; load average at start "
             f"{meta['load_start']}, at end {meta['load_end']}.", "",
             f"Command: `{meta['command']}` (`make drill`; the same drills run in tests/drill/).", "",
             "| drill | result |", "|---|---|"]
    lines += [f"| {d.name} | {'passed' if d.ok else '**failed**'} |" for d in drills]
    for d in drills:
        lines += ["", f"## {d.name}: {'passed' if d.ok else '**failed**'}", "", "| | |", "|---|---|"]
        lines += [f"| {what} | {value.replace('|', '/')} |" for what, value in d.figures]
        lines += [f"\n- {n}" for n in d.notes]
    return "\n".join(lines) + "\n"


def hotline_token(home: Path) -> str:
    done = subprocess.run([str(CIVIC), "--home", str(home), "tokens", "add", f"drill-{uuid.uuid4().hex[:6]}",
                           "--scope", "hotline"], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return done.stdout.strip().splitlines()[-1]


DRILLS = ("engine", "app", "locked", "readonly", "disk")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drill", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=default_home(), help="a trained home to copy")
    parser.add_argument("--work", type=Path, default=Path("/tmp/civic-bench-drill"))
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "DRILL.md")
    parser.add_argument("--only", default=",".join(DRILLS), help=f"comma-separated subset of {DRILLS}")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))

    def log(msg: str) -> None:
        print(f"[drill] {msg}", file=sys.stderr, flush=True)

    if args.home is None:
        parser.error("--home (or CIVIC_TEST_TRAINED_HOME) names a trained home")
    meta = machine()
    meta["command"] = "python -m bench.drill " + " ".join(argv if argv is not None else sys.argv[1:])
    run_dir = args.work / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    drills: list[Drill] = []
    if only & {"engine", "app", "locked", "readonly"}:
        home = copy_home(args.home, run_dir / "home")
        token = hotline_token(home)
        stack = start_stack(home, run_dir)
        settings = load_settings(home)
        try:
            for name, run in (("engine", lambda: engine_kill(stack, settings, log)),
                              ("app", lambda: app_kill(stack, settings, token, log)),
                              ("locked", lambda: locked_archive(stack, log)),
                              ("readonly", lambda: readonly_archive(stack, log))):
                if name in only:
                    log(f"drill: {name}")
                    drills.append(asyncio.run(run()))
                    log(f"  {'passed' if drills[-1].ok else 'FAILED'}: {drills[-1].figures}")
        finally:
            left = stack.stop()
            if left:
                log(f"processes left behind (killed): {left}")
    if "disk" in only:
        log("drill: disk")
        drills.append(asyncio.run(full_disk(args.home, run_dir, log)))
        log(f"  {'passed' if drills[-1].ok else 'FAILED'}: {drills[-1].figures}")
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    write_report(args.out, render(meta, drills))
    shutil.rmtree(run_dir, ignore_errors=True)
    log(f"written {args.out}")
    return 0 if all(d.ok for d in drills) else 1


if __name__ == "__main__":
    raise SystemExit(main())
