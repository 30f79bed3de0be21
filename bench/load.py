"""``make bench-load``: N concurrent citizens over the web chat's WebSocket and the REST API for D minutes on
the real stack, every message carrying an id and every id checked for exactly one reply; latency per kind of
turn and the app's and the engine's memory over time, written to bench/LOAD.md (issue 16, part 1).

One real stack (``civic serve`` on a copy of a trained home, started by ``bench/stack.py``).  Each of the
``--sessions`` slots plays one citizen after another (a fresh session id each), half of them over
``/ws?session=<id>`` (the web chat's protocol, ``connectors/web.py``: ``{"type": "message", "key": <id>}``,
answered by one ``reply`` frame with that key) and half over ``POST /api/chat``.  Each citizen is one short
conversation of the demo corpus (``CONVERSATIONS``): a guide question and its follow-ups, an application's
status with the phone-digits check, a policy's validity, a hand-over to a person and a message after it.
Between two messages a citizen "types" for ``--think`` seconds (a random pause in that range).

Exactly once: every message has an id (the WebSocket key; for REST an id the bench keeps per request).  A
message is *lost* when no reply came for it, *doubled* when two came (a second ``reply`` frame with its key
on the socket, which stays open ``LINGER_S`` after the last reply to catch one).  After the run the app's chat
history (``app.db``'s ``history_turns``, where every channel stores each turn once) is read as well: every
WebSocket id must be there once with a reply, every REST session must hold as many answered turns as it
sent.  An *error* is a refused or failed request, an error frame, a timeout, or a reply that is not what
that kind of turn must get (``check``).

Citizens come from several loopback addresses (127.0.0.2 …, ``--ips``), as a city's citizens do, so the
web chat's per-address limits (sockets, messages per minute) apply as they would in production; the bench
home's ``civic.toml`` also raises any per-IP limit settings the app has (``RATE_LIMIT_SETTINGS``).

    .venv/bin/python -m bench.load --minutes 1 --sessions 20 --out /tmp/load.md   # a quick look
    .venv/bin/python -m bench.load                                                  # 100 sessions, 10 min
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import aiohttp

from bench.dialogue import machine, stack_processes
from bench.dialogue_report import percentile
from bench.report import write_report
from core.settings import REPO_ROOT, Settings, load_settings

GROWTH_TARGET = 0.10  # memory growth from minute 2 to the last minute
LINGER_S = 1.0  # a socket stays open this long after its last reply, so a doubled reply would be seen
TURN_TIMEOUT_S = 90.0
APP_NO, PHONE_LAST4 = "HD202610120003", "9187"  # a demo application and its phone's last 4 digits
SEARCH_MARK = "智能对话正在启动"  # how a search answer (the engine not ready) begins
# settings a per-IP rate limit may have; written generously into the bench home when core/settings.py has them
# (core/settings.py: requests per minute per client IP and per session; 0 would switch them off, the bench
# keeps them on but out of the way: 100 citizens from 20 addresses are not one abusive client)
RATE_LIMIT_SETTINGS = {"rate_ip_per_minute": 100_000, "rate_session_per_minute": 100_000}

# (kind, text): one citizen's conversation each; follow-ups ride on the service in context
CONVERSATIONS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("guide", "结婚登记要带什么材料"), ("follow-up", "那要多少钱？"), ("follow-up", "在哪里办")),
    (("status", "我上周交的居住证办好了没"), ("status", APP_NO), ("status-digits", PHONE_LAST4)),
    (("policy", "示府规〔2025〕5号还有效吗"), ("guide", "刚生完孩子去哪里报户口"),
     ("follow-up", "那要多少钱？")),
    (("hand-over", "转人工"), ("hand-over", "你好？")),
    (("guide", "居住证怎么办理"), ("follow-up", "在哪里办")),
    (("guide", "想提取公积金租房用，需要什么"), ("status", "我的申请办到哪一步了"), ("status", APP_NO),
     ("status-digits", PHONE_LAST4)),
)


def check(kind: str, reply: dict[str, Any]) -> str:
    """"" when ``reply`` is what a turn of ``kind`` must get (from the dialogue or, while the engine is down,
    from search), else what is wrong."""
    messages = reply.get("messages") or []
    texts = " ".join(str(m.get("text") or "") for m in messages)
    searched = SEARCH_MARK in texts
    if kind == "hand-over":
        return "" if reply.get("handoff") else "not handed over"
    if not messages or not texts.strip():
        return "no text in the reply"
    if kind in ("guide", "policy") and not (messages[0].get("citations") or searched):
        return "no citation"
    if kind == "status-digits":
        if PHONE_LAST4 in json.dumps(messages, ensure_ascii=False):  # not the session id: a random one may
            # hold the digits (the full run of 22:45 counted one such false error)
            return "the phone digits are echoed"
        card = messages[0].get("card") or {}
        if card.get("app_no") != APP_NO and not searched:
            return f"no status card for {APP_NO}"
    return ""


# -- one message and what came back ----------------------------------------------------------------------
@dataclass
class Sent:
    id: str
    session: str
    transport: str  # ws | rest
    kind: str
    text: str
    at: float  # seconds since the run started
    replies: int = 0
    latency_ms: float | None = None
    error: str = ""
    mode: str = ""  # dialogue | search | paused


@dataclass
class Ledger:
    """Every message sent, by id; the replies counted against it."""

    started: float = field(default_factory=time.monotonic)
    sent: dict[str, Sent] = field(default_factory=dict)
    strays: list[dict[str, Any]] = field(default_factory=list)  # reply frames for an id never sent

    def now(self) -> float:
        return time.monotonic() - self.started

    def add(self, session: str, transport: str, kind: str, text: str) -> Sent:
        msg = Sent(uuid.uuid4().hex, session, transport, kind, text, self.now())
        self.sent[msg.id] = msg
        return msg

    def replied(self, msg: Sent, reply: dict[str, Any], started: float) -> None:
        msg.replies += 1
        if msg.replies > 1:
            return  # doubled: counted, the first reply's measurements kept
        msg.latency_ms = (time.perf_counter() - started) * 1000
        msg.mode = str(reply.get("mode") or "")
        problem = check(msg.kind, reply)
        if problem:
            first = (reply.get("messages") or [{}])[0]
            msg.error = f"{msg.kind} {msg.text!r}: {problem}: {str(first.get('text'))[:80]!r}"

    def failed(self, msg: Sent, error: str) -> None:
        msg.error = msg.error or error

    def lost(self) -> list[Sent]:
        return [m for m in self.sent.values() if m.replies == 0]

    def doubled(self) -> list[Sent]:
        return [m for m in self.sent.values() if m.replies > 1]

    def errors(self) -> list[Sent]:
        return [m for m in self.sent.values() if m.error]


# -- the two transports --------------------------------------------------------------------------------
class WsCitizen:
    """One web chat citizen on ``/ws``: sends with a key, waits for the ``reply`` frame of that key; every
    reply frame is counted against its key (a second one is a doubled reply)."""

    def __init__(self, http: aiohttp.ClientSession, app_url: str, ledger: Ledger) -> None:
        self.http, self.url, self.ledger = http, app_url.replace("http", "ws", 1), ledger
        self.user = uuid.uuid4().hex
        self.session = f"web:{self.user}"
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.waiting: dict[str, tuple[Sent, float, asyncio.Future[None]]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.ws = await self.http.ws_connect(f"{self.url}ws?session={self.user}", heartbeat=20)
        self.reader = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(frame.data)
            key = str(data.get("key") or "")
            if data.get("type") not in ("reply", "error") or not key:
                continue  # ack, queue, staff frames
            msg = self.ledger.sent.get(key)
            if msg is None:
                self.ledger.strays.append(data)
                continue
            pending = self.waiting.get(key)
            started = pending[1] if pending else time.perf_counter()
            if data["type"] == "reply":
                self.ledger.replied(msg, data.get("reply") or {}, started)
            else:
                msg.replies += 1
                self.ledger.failed(msg, f"error frame {data.get('code')}")
            if pending and not pending[2].done():
                pending[2].set_result(None)

    async def send(self, msg: Sent, resend: bool = False) -> None:
        """Send ``msg`` and wait for its reply (``resend``: the same key again, after a reconnect)."""
        assert self.ws is not None
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        self.waiting[msg.id] = (msg, started, done)
        await self.ws.send_json({"type": "message", "key": msg.id, "text": msg.text, "label": "",
                                 "lang": "zh"})
        try:
            await asyncio.wait_for(asyncio.shield(done), TURN_TIMEOUT_S)
        except TimeoutError:
            self.ledger.failed(msg, f"no reply within {TURN_TIMEOUT_S:.0f} s")
        finally:
            self.waiting.pop(msg.id, None)

    async def say(self, kind: str, text: str) -> Sent:
        msg = self.ledger.add(self.session, "ws", kind, text)
        try:
            await self.send(msg)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            self.ledger.failed(msg, f"{type(exc).__name__}: {exc}")
        return msg

    async def close(self, linger: float = LINGER_S) -> None:
        await asyncio.sleep(linger)
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


class RestCitizen:
    """One API client on ``POST /api/chat``: one HTTP response per message is its one reply."""

    def __init__(self, http: aiohttp.ClientSession, app_url: str, ledger: Ledger) -> None:
        self.http, self.url, self.ledger = http, app_url + "api/chat", ledger
        self.session = f"load-{uuid.uuid4().hex[:16]}"

    async def open(self) -> None:
        return None

    async def say(self, kind: str, text: str) -> Sent:
        msg = self.ledger.add(self.session, "rest", kind, text)
        started = time.perf_counter()
        try:
            async with self.http.post(self.url, json={"session": self.session, "text": text},
                                      timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)) as resp:
                body = await resp.read()
                if resp.status != 200:
                    msg.replies += 1
                    self.ledger.failed(msg, f"HTTP {resp.status}: {body[:200]!r}")
                else:
                    self.ledger.replied(msg, json.loads(body), started)
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
            self.ledger.failed(msg, f"{type(exc).__name__}: {exc}")
        return msg

    async def close(self, linger: float = 0.0) -> None:
        return None


Citizen = WsCitizen | RestCitizen


def source_ips(count: int) -> list[str]:
    """``count`` loopback addresses to connect from (127.0.0.2, 127.0.0.3, …; all of 127/8 is loopback)."""
    return [f"127.0.{(i + 2) // 250}.{(i + 2) % 250 or 250}" for i in range(count)]


def client_sessions(ips: list[str]) -> list[aiohttp.ClientSession]:
    return [aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, local_addr=(ip, 0))) for ip in ips]


# -- memory over time ----------------------------------------------------------------------------------
def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc (psutil's reading, without psutil)."""
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0.0
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class MemorySampler:
    """RSS of the app's and the engine's process trees every ``period`` seconds (re-found each time, so a
    restarted child is followed), with the load average."""

    root_pid: int
    ledger: Ledger
    period: float = 10.0
    samples: list[dict[str, Any]] = field(default_factory=list)

    def take(self) -> dict[str, Any]:
        try:
            procs = stack_processes(self.root_pid)
        except Exception:  # the supervisor is gone
            procs = {"app": [], "engine": []}
        row: dict[str, Any] = {"t": round(self.ledger.now(), 1), "load": os.getloadavg()[0]}
        for name, group in procs.items():
            row[name] = round(sum(rss_mb(p.pid) for p in group), 1)
            row[f"{name}_pid"] = group[0].pid if group else None
        self.samples.append(row)
        return row

    async def run(self, until: float) -> None:
        while self.ledger.now() < until:
            self.take()
            await asyncio.sleep(self.period)
        self.take()


def growth(samples: list[dict[str, Any]], name: str, minutes: float) -> dict[str, Any]:
    """Median RSS in minute 2 against the last minute, and the relative growth (None when the run is too
    short to have both)."""
    def median(lo: float, hi: float) -> float | None:
        vals = [s[name] for s in samples if lo <= s["t"] < hi and s[name]]
        return percentile(vals, 50) if vals else None

    end = minutes * 60
    first, last = median(60, 120), median(max(end - 60, 120), end + 1)
    if minutes < 3 or first is None or last is None:
        return {"minute2": first, "last": last, "growth": None}
    return {"minute2": round(first, 1), "last": round(last, 1), "growth": (last - first) / first}


# -- the load ------------------------------------------------------------------------------------------
@dataclass
class Load:
    app_url: str
    ledger: Ledger
    sessions: list[aiohttp.ClientSession]  # one per source address
    think: tuple[float, float] = (2.0, 6.0)
    ws_share: float = 0.5
    conversations: int = 0
    until: float = 0.0  # seconds since the start; lowered to stop the load early (the drill does)

    def citizen(self, slot: int) -> Citizen:
        http = self.sessions[slot % len(self.sessions)]
        ws = int((slot + 1) * self.ws_share) > int(slot * self.ws_share)  # spread evenly over the slots
        return WsCitizen(http, self.app_url, self.ledger) if ws else RestCitizen(http, self.app_url,
                                                                                  self.ledger)

    async def slot(self, slot: int, rng: random.Random) -> None:
        """One slot: citizen after citizen until ``self.until`` (seconds since the start)."""
        await asyncio.sleep(rng.uniform(0, self.think[1]))  # not all at once
        while self.ledger.now() < self.until:
            citizen = self.citizen(slot)
            conversation = CONVERSATIONS[rng.randrange(len(CONVERSATIONS))]
            try:
                await citizen.open()
            except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                msg = self.ledger.add(citizen.session, "ws", "connect", "")
                msg.replies = 1  # not a message: the socket was refused
                self.ledger.failed(msg, f"connect: {type(exc).__name__}: {exc}")
                await asyncio.sleep(self.think[0])
                continue
            self.conversations += 1
            for kind, text in conversation:
                await citizen.say(kind, text)
                await asyncio.sleep(rng.uniform(*self.think))
            await citizen.close()

    async def run(self, slots: int, seconds: float, seed: int = 16) -> None:
        rng = random.Random(seed)
        self.until = seconds
        await asyncio.gather(*(self.slot(i, random.Random(rng.random())) for i in range(slots)))


def history_check(settings: Settings, ledger: Ledger) -> dict[str, int]:
    """The app's own record: each WebSocket id stored once with a reply; each REST session holding as many
    answered turns as it sent.  Counts of what does not match."""
    db = sqlite3.connect(f"file:{settings.paths.app_db}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("SELECT session, key, reply IS NOT NULL FROM history_turns").fetchall()
    finally:
        db.close()
    by_key = {(s, k): answered for s, k, answered in rows}
    per_session: Counter[str] = Counter(s for s, _, answered in rows if answered)
    sent_rest: Counter[str] = Counter(m.session for m in ledger.sent.values()
                                      if m.transport == "rest" and m.kind != "connect")
    ws = [m for m in ledger.sent.values() if m.transport == "ws" and m.kind != "connect"]
    return {
        "ws_missing": sum(1 for m in ws if not by_key.get((m.session, m.id))),
        "rest_sessions_mismatched": sum(1 for s, n in sent_rest.items() if per_session[s] != n),
        "rows": len(rows),
    }


def stats(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), **{f"p{q}": round(percentile(values, q), 1) if values else None
                                 for q in (50, 95, 99)}}


def summarise(ledger: Ledger, sampler: MemorySampler, minutes: float, history: dict[str, int]
              ) -> dict[str, Any]:
    msgs = [m for m in ledger.sent.values() if m.kind != "connect"]
    by_kind: dict[str, list[float]] = defaultdict(list)
    by_transport: dict[str, list[float]] = defaultdict(list)
    for m in msgs:
        if m.latency_ms is not None and not m.error:
            by_kind[m.kind].append(m.latency_ms)
            by_transport[m.transport].append(m.latency_ms)
    errors = ledger.errors()
    per_minute = []
    for minute in range(int(minutes + 0.999)):
        inside = [m for m in msgs if minute * 60 <= m.at < (minute + 1) * 60]
        mem = [s for s in sampler.samples if minute * 60 <= s["t"] < (minute + 1) * 60]
        per_minute.append({
            "minute": minute + 1, "messages": len(inside), "errors": sum(1 for m in inside if m.error),
            "p95": stats([m.latency_ms for m in inside if m.latency_ms is not None])["p95"],
            "app_mb": max((s["app"] for s in mem), default=None),
            "engine_mb": max((s["engine"] for s in mem), default=None),
            "load": round(max((s["load"] for s in mem), default=0.0), 2),
        })
    return {
        "messages": len(msgs), "ws": sum(1 for m in msgs if m.transport == "ws"),
        "rest": sum(1 for m in msgs if m.transport == "rest"),
        "lost": len(ledger.lost()), "doubled": len(ledger.doubled()), "strays": len(ledger.strays),
        "errors": len(errors), "error_examples": Counter(e.error[:160] for e in errors).most_common(8),
        "modes": dict(Counter(m.mode or "-" for m in msgs)),
        "by_kind": {k: stats(v) for k, v in sorted(by_kind.items())},
        "by_transport": {k: stats(v) for k, v in sorted(by_transport.items())},
        "all": stats([m.latency_ms for m in msgs if m.latency_ms is not None and not m.error]),
        "memory": {name: growth(sampler.samples, name, minutes) for name in ("app", "engine")},
        "per_minute": per_minute, "history": history,
    }


# -- the report ----------------------------------------------------------------------------------------
def _pct(x: float | None) -> str:
    return "n/a (run shorter than 3 min)" if x is None else f"{x * 100:+.1f} %"


def verdict(ok: bool | None) -> str:
    return "not measured (run shorter than 3 min)" if ok is None else "met" if ok else "**not met**"


def render(meta: dict[str, Any], s: dict[str, Any]) -> str:
    grown = [v["growth"] for v in s["memory"].values()]
    mem_ok: bool | None = None if None in grown else all(g <= GROWTH_TARGET for g in grown)
    ok = {"errors": s["errors"] == 0, "exactly once": s["lost"] == 0 and s["doubled"] == 0
          and not s["history"]["ws_missing"] and not s["history"]["rest_sessions_mismatched"],
          "memory": mem_ok}
    lines = [
        "# Load: concurrent citizens over WebSocket and REST",
        "",
        f"Measured {meta['date']} on {meta['nproc']} cores ({meta['cpu']}), {meta['ram_gb']} GiB RAM; Python "
        f"{meta['python']}, commit {meta['commit']}{' (with uncommitted changes)' if meta['dirty'] else ''}.",
        f"Load average (1/5/15 min) at start {meta['load_start']}, at end {meta['load_end']} "
        f"(2 cores shared with other engineers' runs; see the notes).",
        "",
        f"Command: `{meta['command']}` (`make bench-load`).  {meta['sessions']} concurrent sessions for "
        f"{meta['minutes']:g} min, {meta['ws_share'] * 100:.0f} % over `/ws`, the rest over "
        "`POST /api/chat`; "
        f"think time {meta['think'][0]:g}-{meta['think'][1]:g} s between a citizen's messages; "
        f"{meta['ips']} source addresses; stack ready in {meta['ready_s']:.0f} s.",
        "Bench home's rate-limit settings raised: "
        f"{meta['limits'] or 'none (the app has no such settings)'}.",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| 0 errors | {s['errors']} errors in {s['messages']} messages | {verdict(ok['errors'])} |",
        f"| 0 lost, 0 doubled | {s['lost']} lost, {s['doubled']} doubled, {s['strays']} replies to unknown "
        "ids; "
        f"history: {s['history']['ws_missing']} WebSocket ids missing, "
        f"{s['history']['rest_sessions_mismatched']} REST sessions with a different turn count "
        f"({s['history']['rows']} rows) | {verdict(ok['exactly once'])} |",
        f"| memory growth <= {GROWTH_TARGET * 100:.0f} % from minute 2 to the last | app "
        f"{_pct(s['memory']['app']['growth'])}, engine {_pct(s['memory']['engine']['growth'])} | "
        f"{verdict(mem_ok)} |",
        "",
        f"Messages: {s['messages']} ({s['ws']} WebSocket, {s['rest']} REST); answered by: "
        + ", ".join(f"{k} {v}" for k, v in sorted(s["modes"].items())) + ".",
        "",
        "## Latency (ms, answered messages without error)",
        "",
        "| kind | n | p50 | p95 | p99 |",
        "|---|---|---|---|---|",
    ]
    for name, st in [*s["by_kind"].items(), *((f"all {k}", v) for k, v in s["by_transport"].items()),
                     ("all", s["all"])]:
        lines.append(f"| {name} | {st['n']} | {st['p50']} | {st['p95']} | {st['p99']} |")
    lines += ["", "## Per minute (memory: the largest RSS sample in the minute, MiB, whole process tree)", "",
              "| minute | messages | errors | p95 ms | app MiB | engine MiB | load (1 min) |",
              "|---|---|---|---|---|---|---|"]
    for row in s["per_minute"]:
        lines.append(f"| {row['minute']} | {row['messages']} | {row['errors']} | {row['p95']} | "
                     f"{row['app_mb']} | {row['engine_mb']} | {row['load']} |")
    mem = s["memory"]
    lines += ["", f"Memory, median RSS minute 2 -> last minute: app {mem['app']['minute2']} -> "
                  f"{mem['app']['last']} MiB, engine {mem['engine']['minute2']} -> "
                  f"{mem['engine']['last']} MiB."]
    if s["error_examples"]:
        lines += ["", "## Errors (most common)", ""]
        lines += [f"- {n} x `{text}`" for text, n in s["error_examples"]]
    return "\n".join(lines) + "\n"


def configure(home: Path) -> list[str]:
    """Raise the app's per-IP/per-session rate limits in the bench home (only settings the app has)."""
    known = {f.name for f in fields(Settings)}
    lines = [f"{k} = {v}" for k, v in RATE_LIMIT_SETTINGS.items() if k in known]
    if lines:
        with (home / "civic.toml").open("a", encoding="utf-8") as f:
            f.write("\n" + "\n".join(lines) + "\n")
    return lines


def default_home() -> Path | None:
    kept = os.environ.get("CIVIC_TEST_TRAINED_HOME")
    return Path(kept) / "home" if kept and (Path(kept) / "home" / "civic.toml").exists() else None


async def wait_dialogue(app_url: str, timeout: float = 300) -> None:
    """Until a turn is answered by the dialogue (not search)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.post(app_url + "api/chat", json={"session": f"probe-{uuid.uuid4().hex[:8]}",
                                                                 "text": "你好"}) as resp:
                    if resp.status == 200 and (await resp.json()).get("mode") == "dialogue":
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(1)
    raise RuntimeError(f"the dialogue did not answer within {timeout:.0f} s")


async def measure(app_url: str, root_pid: int, settings: Settings, args: Any, log: Callable[[str], None]
                  ) -> dict[str, Any]:
    await wait_dialogue(app_url)
    ledger = Ledger()
    sampler = MemorySampler(root_pid, ledger, period=args.sample_every)
    sessions = client_sessions(source_ips(args.ips))
    load = Load(app_url, ledger, sessions, (args.think_min, args.think_max), args.ws_share)
    seconds = args.minutes * 60

    async def progress() -> None:
        while ledger.now() < seconds:
            await asyncio.sleep(60)
            row = sampler.samples[-1] if sampler.samples else {}
            log(f"  {ledger.now() / 60:4.1f} min: {len(ledger.sent)} messages, "
                f"{len(ledger.errors())} errors, app {row.get('app')} MiB, engine {row.get('engine')} MiB, "
                f"load {os.getloadavg()[0]:.2f}")

    try:
        tasks = [asyncio.create_task(sampler.run(seconds)), asyncio.create_task(progress())]
        await load.run(args.sessions, seconds)
        await asyncio.gather(*tasks)
    finally:
        for http in sessions:
            await http.close()
    history = await asyncio.to_thread(history_check, settings, ledger)
    summary = summarise(ledger, sampler, args.minutes, history)
    summary["conversations"] = load.conversations
    summary["samples"] = sampler.samples
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=default_home(),
                        help="a trained home to copy (default: $CIVIC_TEST_TRAINED_HOME/home, else trained "
                             "under --work)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/civic-bench-load"))
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "LOAD.md")
    parser.add_argument("--json", type=Path, help="also write the raw summary here")
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--ws-share", type=float, default=0.5, help="share of sessions over /ws")
    parser.add_argument("--think-min", type=float, default=2.0)
    parser.add_argument("--think-max", type=float, default=6.0)
    parser.add_argument("--ips", type=int, default=20, help="loopback source addresses")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds between memory samples")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[bench-load] {msg}", file=sys.stderr, flush=True)

    from bench.dialogue import trained_home
    from bench.stack import copy_home, start_stack

    meta = machine()
    meta["command"] = "python -m bench.load " + " ".join(argv if argv is not None else sys.argv[1:])
    meta.update(sessions=args.sessions, minutes=args.minutes, ws_share=args.ws_share,
                think=(args.think_min, args.think_max), ips=args.ips)
    source = args.home or trained_home(args.work, log)
    run_dir = args.work / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    home = copy_home(source, run_dir / "home")
    meta["limits"] = ", ".join(configure(home))
    log(f"starting civic serve on a copy of {source} ...")
    stack = start_stack(home, run_dir)
    try:
        meta["ready_s"] = stack.started_s
        log(f"ready in {stack.started_s:.0f} s at {stack.url}; load {os.getloadavg()}; "
            f"{args.sessions} sessions for {args.minutes:g} min")
        summary = asyncio.run(measure(stack.url, stack.proc.pid, load_settings(home), args, log))
    finally:
        left = stack.stop()
        if left:
            log(f"processes left behind (killed): {left}")
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, **summary}, indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    write_report(args.out, render(meta, summary))
    log(f"{summary['messages']} messages, {summary['errors']} errors, {summary['lost']} lost, "
        f"{summary['doubled']} doubled; written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
