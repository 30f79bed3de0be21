"""``make bench-wechat``: WeChat passive-reply time at 10 concurrent users on the real stack, and duplicate
answers when every message arrives three times, written to bench/WECHAT.md (issue 15's WeChat target:
p95 passive reply ≤ 1 s at 10 users; 0 duplicate answers).

One real stack (``civic serve`` on a copy of a trained home, the way the engine tests start it) with the
WeChat channel configured in the home's ``secrets.toml`` (server token, app id and secret, and the
EncodingAESKey: safe mode) and ``wechat_api_url`` pointed at a small local stand-in for WeChat's API (the
access token and ``message/custom/send``, which records every customer-service message).  The bench plays
WeChat's servers: each request is a text message signed (and, in safe mode, encrypted) with wechatpy the way
WeChat does it, posted to ``POST /wechat``.

Phases
- **load**: ``--users`` (10) simulated users side by side for ``--duration`` (120 s).  Each user plays one
  citizen after another (a fresh OpenID each), each citizen a short conversation from the demo corpus's
  kinds — guide questions and their follow-ups, a policy's validity, an application's status (with the
  number), chitchat, and a numbered choice (「1」) — sent back to back (``--think`` seconds apart, 0 by
  default: 10 requests always in flight).  Measured per message: the time from sending to having the whole
  reply; whether it was a passive XML reply or ``success`` (the answer then follows as a customer-service
  message, which the stand-in must receive).
- **retries**: every message delivered three times with the same MsgId, as WeChat re-sends when no reply
  came — either the three at once (``concurrent``) or one, then two more after ``--retry-delay`` s
  (``delayed``).  A duplicate answer is a second user turn in the engine's tracker for one MsgId, two
  deliveries of one MsgId with different passive replies, one delivery answered passively and another with
  ``success`` (the answer would come twice: passive and by customer-service message), or one text pushed
  twice by customer-service message to the same user.

    .venv/bin/python -m bench.wechat_bench                       # trains a scratch home once, then measures
    .venv/bin/python -m bench.wechat_bench --home /tmp/x/home    # reuse a trained home (copied, not changed)
    .venv/bin/python -m bench.wechat_bench --duration 30 --out /tmp/quick.md
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import xmltodict
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bench.dialogue import machine, trained_home
from bench.dialogue_report import percentile
from bench.report import write_report
from core.settings import REPO_ROOT, load_settings

TARGET_P95_S = 1.0
TOKEN = "bench-server-token"
APP_ID = "wx-bench-app"
APP_SECRET = "bench-app-secret"
AES_KEY = "benchKEYabcdefghijklmnopqrstuvwxyz012345678"  # 43 characters, as WeChat issues them
ACCOUNT = "gh_bench_account"
SEARCH_MARK = "智能对话正在启动"  # how a search answer begins (domain/responses_standby.yml)

# (kind, text): one citizen's conversation each; guide follow-ups ride on the service in context
CONVERSATIONS: tuple[tuple[tuple[str, str], ...], ...] = (
    (("chitchat", "你好"), ("guide", "结婚登记要带什么材料"), ("follow-up", "那要多少钱？"),
     ("chitchat", "谢谢")),
    (("guide", "出国旅游要办什么证件"), ("follow-up", "在哪里办"), ("choice", "1")),
    (("policy", "示府规〔2025〕5号还有效吗"), ("chitchat", "谢谢")),
    (("status", "我上周交的居住证办好了没"), ("status", "HD202610120003"), ("chitchat", "谢谢")),
    (("guide", "刚生完孩子去哪里报户口"), ("follow-up", "那要多少钱？"), ("follow-up", "在哪里办")),
    (("guide", "想提取公积金租房用，需要什么"), ("chitchat", "你好")),
    (("guide", "居住证怎么办理"), ("choice", "1"), ("chitchat", "谢谢")),
)


# -- WeChat's side -------------------------------------------------------------------------------------
def _signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


class WeChatServers:
    """Builds what WeChat's servers post (signed; encrypted in safe mode) and reads the replies."""

    def __init__(self, aes: bool) -> None:
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID) if aes else None
        self.nonces = itertools.count(1)

    @staticmethod
    def text_xml(user: str, text: str, msg_id: int) -> str:
        return (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{user}]]>"
                f"</FromUserName><CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]>"
                f"</MsgType><Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>")

    def delivery(self, xml: str) -> tuple[str, str]:
        """(query string, body) of one delivery: each retry is signed afresh, as WeChat does."""
        timestamp, nonce = str(int(time.time())), f"n{next(self.nonces)}"
        query = {"signature": _signature(TOKEN, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                 "openid": "x"}
        if self.crypto is None:
            return urllib.parse.urlencode(query), xml
        sealed = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt></xml>")
        query.update(encrypt_type="aes", msg_signature=sealed["MsgSignature"])
        return urllib.parse.urlencode(query), body

    def reply_text(self, body: str) -> str | None:
        """The passive reply's text; None for ``success``.  Raises when the reply is not valid."""
        if body == "success":
            return None
        if self.crypto is not None:
            sealed = xmltodict.parse(body)["xml"]
            body = self.crypto.decrypt_message(body, sealed["MsgSignature"], sealed["TimeStamp"],
                                               sealed["Nonce"])
        xml = xmltodict.parse(body)["xml"]
        if xml.get("MsgType") != "text" or not xml.get("Content"):
            raise ValueError(f"not a text reply: {body[:200]}")
        return str(xml["Content"])


class CustomerServiceAPI:
    """The part of WeChat's API the channel calls: ``token`` and ``message/custom/send`` (recorded)."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, str]] = []  # (time, OpenID, text)
        self.tokens = 0
        self.app = web.Application()
        self.app.router.add_get("/cgi-bin/token", self.token)
        self.app.router.add_post("/cgi-bin/message/custom/send", self.send)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def token(self, request: web.Request) -> web.Response:
        if request.query.get("appid") != APP_ID or request.query.get("secret") != APP_SECRET:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        self.tokens += 1
        return web.json_response({"access_token": f"bench-token-{self.tokens}", "expires_in": 7200})

    async def send(self, request: web.Request) -> web.Response:
        if not str(request.query.get("access_token", "")).startswith("bench-token-"):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        body = json.loads(await request.read())
        self.sent.append((time.monotonic(), str(body.get("touser")), str(body["text"]["content"])))
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/cgi-bin/"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def to(self, user: str) -> list[str]:
        return [text for _, u, text in self.sent if u == user]


# -- measuring -----------------------------------------------------------------------------------------
@dataclass
class Sample:
    kind: str
    user: str
    seconds: float
    passive: bool
    error: str = ""
    search: bool = False  # answered by search (the engine not ready), not the dialogue
    cited: bool = False  # the reply names a source (📄 title)


@dataclass
class Bench:
    app_url: str
    engine_url: str
    engine_token: str
    wechat: WeChatServers
    api: CustomerServiceAPI
    http: aiohttp.ClientSession
    msg_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(int(time.time()) * 1000))

    async def deliver(self, xml: str) -> tuple[float, str | None, str]:
        """One delivery: (seconds to the whole reply, the passive text or None, an error or "")."""
        query, body = self.wechat.delivery(xml)
        started = time.monotonic()
        try:
            async with self.http.post(f"{self.app_url}wechat?{query}", data=body.encode()) as resp:
                text = await resp.text()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return time.monotonic() - started, None, f"{type(exc).__name__}: {exc}"
        took = time.monotonic() - started
        if status != 200:
            return took, None, f"HTTP {status}: {text[:200]}"
        try:
            return took, self.wechat.reply_text(text), ""
        except Exception as exc:
            return took, None, f"bad reply: {exc}"

    async def user_turns(self, user: str) -> int:
        sender = urllib.parse.quote(f"wechat:{user}", safe="")
        url = f"{self.engine_url.rstrip('/')}/conversations/{sender}/tracker"
        async with self.http.get(url, params={"token": self.engine_token, "include_events": "ALL"}) as resp:
            data = await resp.json(content_type=None)
        return sum(1 for e in data.get("events") or [] if e.get("event") == "user")


async def load_phase(bench: Bench, users: int, duration: float, think: float, log: Callable[[str], None]
                     ) -> dict[str, Any]:
    samples: list[Sample] = []
    end = time.monotonic() + duration
    rng = random.Random(15)
    citizens: dict[str, int] = {}  # OpenID -> messages sent

    async def simulated(slot: int) -> None:
        for n in itertools.count():
            if time.monotonic() >= end:
                return
            conversation = CONVERSATIONS[rng.randrange(len(CONVERSATIONS))]
            user = f"oBench{slot:02d}c{n:04d}"
            citizens[user] = 0
            for kind, text in conversation:
                if time.monotonic() >= end:
                    return
                xml = bench.wechat.text_xml(user, text, next(bench.msg_ids))
                took, reply, error = await bench.deliver(xml)
                citizens[user] += 1
                samples.append(Sample(kind, user, took, reply is not None, error,
                                      search=bool(reply and reply.startswith(SEARCH_MARK)),
                                      cited=bool(reply and "📄 " in reply)))
                if think:
                    await asyncio.sleep(think)

    started = time.monotonic()
    await asyncio.gather(*(simulated(i) for i in range(users)))
    wall = time.monotonic() - started
    late = Counter(s.user for s in samples if not s.passive and not s.error)
    await settle(bench.api, lambda: all(len(bench.api.to(u)) >= k for u, k in late.items()), 30)
    missing = sum(max(0, k - len(bench.api.to(u))) for u, k in late.items())
    ok = [s for s in samples if not s.error]
    passive = [s.seconds for s in ok if s.passive]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for s in ok:
        if s.passive:
            by_kind[s.kind].append(s.seconds)
    log(f"load: {len(samples)} messages in {wall:.0f} s, {len(passive)} passive, "
        f"p95 {percentile(passive, 95):.3f} s")
    return {
        "users": users, "duration_s": round(wall, 1), "think_s": think, "messages": len(samples),
        "citizens": len(citizens), "errors": [s.error for s in samples if s.error][:10],
        "error_count": sum(1 for s in samples if s.error),
        "passive": len(passive), "success": sum(late.values()),
        "search_answers": sum(1 for s in ok if s.search),
        "guide_cited": [sum(1 for s in ok if s.kind == "guide" and s.passive and s.cited),
                        sum(1 for s in ok if s.kind == "guide" and s.passive)],
        "customer_service_sent": len(bench.api.sent), "customer_service_missing": missing,
        "throughput_per_s": round(len(samples) / wall, 2) if wall else 0.0,
        "passive_s": stats(passive), "all_s": stats([s.seconds for s in ok]),
        "by_kind": {k: stats(v) for k, v in sorted(by_kind.items())},
    }


async def retry_phase(bench: Bench, users: int, messages: int, mode: str, delay: float,
                      log: Callable[[str], None]) -> dict[str, Any]:
    """Every message delivered three times (same MsgId); one conversation per user, sent in order."""
    before = len(bench.api.sent)
    rows: list[dict[str, Any]] = []

    async def citizen(slot: int) -> None:
        user = f"oRetry{mode[:3]}{slot:02d}"
        texts = list(dict.fromkeys(text for conv in CONVERSATIONS for _, text in conv))  # distinct
        script = (texts[slot % len(texts):] + texts)[:messages]
        for text in script:
            xml = bench.wechat.text_xml(user, text, next(bench.msg_ids))
            if mode == "concurrent":
                got = await asyncio.gather(*(bench.deliver(xml) for _ in range(3)))
            else:
                got = [await bench.deliver(xml)]
                await asyncio.sleep(delay)
                got += await asyncio.gather(bench.deliver(xml), bench.deliver(xml))
            rows.append({"user": user, "passive": [r[1] for r in got], "errors": [r[2] for r in got if r[2]],
                         "seconds": [r[0] for r in got]})

    await asyncio.gather(*(citizen(i) for i in range(users)))
    per_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        per_user[row["user"]].append(row)
    late = {u: sum(1 for r in rs if all(p is None for p in r["passive"])) for u, rs in per_user.items()}
    await settle(bench.api, lambda: all(len(bench.api.to(u)) >= k for u, k in late.items()), 30)
    await asyncio.sleep(2.0)  # anything sent twice would arrive by now
    turns = {u: await bench.user_turns(u) for u in per_user}
    extra_turns = sum(max(0, turns[u] - len(rs)) for u, rs in per_user.items())
    lost_turns = sum(max(0, len(rs) - turns[u]) for u, rs in per_user.items())
    differing = sum(1 for r in rows if len({p for p in r["passive"] if p is not None}) > 1)
    # passive on one delivery and a customer-service message too: the citizen would read it twice
    mixed = sum(1 for r in rows if None in r["passive"] and any(p is not None for p in r["passive"]))
    # the same text pushed twice to one user (each user's messages are distinct texts); a long answer's
    # further parts are different texts, so they do not count
    extra_cs = sum(n - 1 for n in Counter((u, t) for _, u, t in bench.api.sent[before:]).values() if n > 1)
    missing_cs = sum(max(0, late[u] - len(bench.api.to(u))) for u in per_user)
    errors = [e for r in rows for e in r["errors"]]
    result = {
        "mode": mode, "delay_s": delay if mode == "delayed" else 0.0, "users": users,
        "messages": len(rows), "deliveries": 3 * len(rows), "errors": len(errors), "first_errors": errors[:5],
        "user_turns": sum(turns.values()), "extra_turns": extra_turns, "lost_turns": lost_turns,
        "differing_passive": differing, "passive_and_success": mixed,
        "success_on_all_three": sum(late.values()), "customer_service_sent": len(bench.api.sent) - before,
        "extra_customer_service": extra_cs, "missing_customer_service": missing_cs,
        "duplicates": extra_turns + differing + extra_cs + mixed,
        "delivery_s": stats([s for r in rows for s in r["seconds"]]),
    }
    log(f"retries ({mode}): {len(rows)} messages x3, duplicates {result['duplicates']}")
    return result


async def settle(api: CustomerServiceAPI, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.25)


def stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), **{f"p{q}": round(percentile(values, q), 3) for q in (50, 95, 99)},
            "max": round(max(values), 3)}


async def measure(app_url: str, engine_url: str, engine_token: str, api: CustomerServiceAPI, args: Any,
                  log: Callable[[str], None]) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http:
        bench = Bench(app_url, engine_url, engine_token, WeChatServers(not args.plain), api, http)
        await wait_dialogue(bench, log)
        for i, (_, text) in enumerate(kt for conv in CONVERSATIONS for kt in conv):  # warm-up, not counted
            await bench.deliver(bench.wechat.text_xml(f"oWarm{i % 3}", text, next(bench.msg_ids)))
        load = await load_phase(bench, args.users, args.duration, args.think, log)
        retries = [await retry_phase(bench, args.users, args.retry_messages, mode, args.retry_delay, log)
                   for mode in ("concurrent", "delayed")]
    return {"load": load, "retries": retries}


async def wait_dialogue(bench: Bench, log: Callable[[str], None], timeout: float = 300) -> None:
    """Until a chat turn is answered by the dialogue (not search: the engine may still load its model)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with bench.http.post(bench.app_url + "api/chat",
                                       json={"session": f"warm-{time.time()}", "text": "你好"}) as resp:
                if resp.status == 200 and (await resp.json()).get("mode") == "dialogue":
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(1.0)
    raise RuntimeError("the dialogue did not answer within 300 s")


# -- the report ----------------------------------------------------------------------------------------
def render(meta: dict[str, Any], result: dict[str, Any]) -> str:
    load = result["load"]
    p = load["passive_s"]
    met = p.get("n") and p["p95"] <= TARGET_P95_S
    verdict = ("met" if met else "NOT met") if load["users"] == 10 else f"not judged: {load['users']} users"
    dups = sum(r["duplicates"] for r in result["retries"])
    lines = [
        "# WeChat channel: passive-reply time and duplicate answers",
        "",
        f"Written by `{meta['command']}` on {meta['date']}, commit {meta['commit']}"
        f"{' (uncommitted changes)' if meta.get('dirty') else ''}; {meta['nproc']} cores ({meta['cpu']}), "
        f"{meta['ram_gb']} GB, Python {meta['python']}; load average {meta['load_start']} at the start, "
        f"{meta['load_end']} at the end.  Safe mode (AES): {'no' if meta['plain'] else 'yes'}.",
        "",
        f"**Target: p95 passive-reply time ≤ {TARGET_P95_S:.0f} s at 10 users — "
        f"{verdict} ({load['users']} users: p95 {p.get('p95', '–')} s).  "
        f"Duplicate answers with every message delivered 3 times: {dups}.**",
        "",
        "## Load",
        "",
        f"{load['users']} simulated users for {load['duration_s']} s, {load['think_s']} s between a user's "
        f"messages; {load['messages']} messages from {load['citizens']} citizens "
        f"({load['throughput_per_s']}/s); {load['error_count']} errors.",
        "",
        "| | n | p50 s | p95 s | p99 s | max s |",
        "|---|---|---|---|---|---|",
    ]

    def row(name: str, s: dict[str, Any]) -> str:
        if not s.get("n"):
            return f"| {name} | 0 | – | – | – | – |"
        return f"| {name} | {s['n']} | {s['p50']} | {s['p95']} | {s['p99']} | {s['max']} |"

    lines.append(row("**passive reply**", p))
    lines.append(row("every reply (passive or `success`)", load["all_s"]))
    lines += [row(f"passive: {k}", v) for k, v in load["by_kind"].items()]
    lines += [
        "",
        f"Passive replies: {load['passive']}; `success` then a customer-service message: {load['success']} "
        f"(customer-service messages received: {load['customer_service_sent']}: the late answers and long "
        f"answers' further parts; late answers never received: {load['customer_service_missing']}).  "
        f"Answered by search instead of the dialogue: {load['search_answers']}.  Passive guide answers "
        f"naming a source (📄): {load['guide_cited'][0]} of {load['guide_cited'][1]}.",
    ]
    if load["errors"]:
        lines += ["", "First errors: " + "; ".join(f"`{e}`" for e in load["errors"])]
    lines += [
        "",
        "## Every message delivered three times (same MsgId)",
        "",
        "| mode | messages | deliveries | errors | user turns in the tracker | extra turns | differing "
        "passive replies | `success` on all three | customer-service sent | extra | missing | "
        "**duplicates** | delivery p95 s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["retries"]:
        mode = r["mode"] + (f" (+{r['delay_s']} s)" if r["mode"] == "delayed" else "")
        lines.append(
            f"| {mode} | {r['messages']} | {r['deliveries']} | {r['errors']} | {r['user_turns']} | "
            f"{r['extra_turns']} | {r['differing_passive']} | {r['success_on_all_three']} | "
            f"{r['customer_service_sent']} | {r['extra_customer_service']} | "
            f"{r['missing_customer_service']} | "
            f"**{r['duplicates']}** | {r['delivery_s'].get('p95', '–')} |")
    lines += [
        "",
        "A duplicate is a second user turn in the engine's tracker for one MsgId, two deliveries of one "
        "MsgId with different passive replies, one delivery answered passively and another with `success` "
        "(the answer would then come twice), or one text pushed twice to a user by customer-service "
        "message.  "
        f"Of these, passive-and-`success`: "
        f"{', '.join(str(r['passive_and_success']) for r in result['retries'])}.",
        "",
        "How: `bench/wechat_bench.py` (module docstring).  The time is measured at the client, from sending "
        "the signed (encrypted) request to having the whole reply, on the same machine as the stack.",
    ]
    return "\n".join(lines)


def configure(home: Path, api_url: str, aes: bool) -> None:
    with (home / "civic.toml").open("a", encoding="utf-8") as f:
        f.write(f'wechat_api_url = "{api_url}"\n')
    with (home / "secrets.toml").open("a", encoding="utf-8") as f:
        f.write(f'wechat_token = "{TOKEN}"\nwechat_app_id = "{APP_ID}"\nwechat_app_secret = "{APP_SECRET}"\n'
                + (f'wechat_aes_key = "{AES_KEY}"\n' if aes else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.wechat_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, help="a trained home to copy (default: train one under --work)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/civic-bench-wechat"))
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "WECHAT.md")
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--think", type=float, default=0.0, help="seconds between one user's messages")
    parser.add_argument("--retry-messages", type=int, default=6, help="messages per user in each retry mode")
    parser.add_argument("--retry-delay", type=float, default=1.5)
    parser.add_argument("--plain", action="store_true", help="plaintext mode instead of safe mode (AES)")
    args = parser.parse_args(argv)

    def log(msg: str) -> None:
        print(f"[bench-wechat] {msg}", file=sys.stderr, flush=True)

    from bench.stack import copy_home, start_stack

    meta = machine()
    meta["command"] = "python -m bench.wechat_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    meta["plain"] = args.plain
    source = args.home or trained_home(args.work, log)
    run_dir = args.work / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True)
    home = copy_home(source, run_dir / "home")

    async def run() -> dict[str, Any]:
        api = CustomerServiceAPI()
        await api.start()
        configure(home, api.url, not args.plain)
        log(f"starting civic serve on a copy of {source} ...")
        stack = await asyncio.to_thread(start_stack, home, run_dir)
        try:
            settings = load_settings(home)
            engine_url = f"http://127.0.0.1:{stack.engine_port}"
            log(f"ready in {stack.started_s:.0f} s: app {stack.url}; load {os.getloadavg()}")
            return await measure(stack.url, engine_url, settings.engine_token, api, args, log)
        finally:
            left = await asyncio.to_thread(stack.stop)
            if left:
                log(f"processes left behind (killed): {left}")
            await api.stop()

    result = asyncio.run(run())
    meta["load_end"] = [round(x, 2) for x in os.getloadavg()]
    result["meta"] = meta
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_report(args.out, render(meta, result))
    log(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
