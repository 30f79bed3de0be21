"""RasaClient: the app's one connection to the Rasa engine, and the ``Engine`` protocol everything else uses.

One ``aiohttp.ClientSession`` for the life of the app, every call bounded by a timeout.  Conversation turns
go through the engine's ``civic`` input channel (``engine/channel.py``: ``/webhooks/civic/webhook``, no
token: the engine listens on 127.0.0.1 only), which answers with the bot's messages *and* what the app needs
to know about the turn (intent, session size, the form's state), so nothing about a turn is kept in memory
between calls. The HTTP API (``/status``, ``/model/parse``, ``/conversations/…/execute``) is called with the
engine's token. Any failure to reach the engine or to understand its answer raises
``core.errors.EngineUnavailable``.

Several engine replicas (docs/scaling.md): turns, status and health go to the one base URL (an nginx
upstream over the replicas, which share the tracker and lock stores); a model activation must reach every
replica, so ``load_model`` loads the model into each of ``replicas`` (the ``engine_urls`` setting) in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from core.errors import EngineUnavailable

NO_INTENT: dict[str, Any] = {"name": None, "confidence": 0.0}


@dataclass
class EngineHealth:
    reachable: bool
    model: str = ""  # file name of the loaded model, "" when none is loaded
    error: str = ""

    @property
    def healthy(self) -> bool:
        return self.reachable and bool(self.model)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "healthy": self.healthy}


@dataclass
class EngineTurn:
    """The engine's answer to one message."""

    messages: list[dict[str, Any]]
    intent: dict[str, Any] = field(default_factory=lambda: dict(NO_INTENT))
    events: int = 0  # events in the engine session after the turn
    form: str | None = None  # the active form, if any
    requested_slot: str | None = None  # what the form is waiting for


class Engine(Protocol):
    """What the app needs from an engine; RasaClient implements it, tests pass fakes."""

    async def send(
        self, session: str, text: str, metadata: dict[str, Any] | None = None, intent: str | None = None
    ) -> EngineTurn: ...

    async def execute(self, session: str, action: str) -> None: ...

    async def health(self) -> EngineHealth: ...

    async def close(self) -> None: ...


def _turn(data: Any) -> EngineTurn:
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise EngineUnavailable("the engine's answer is not a turn ({'messages': [...], ...})")
    intent: dict[str, Any] = data["intent"] if isinstance(data.get("intent"), dict) else {}
    form: dict[str, Any] = data["form"] if isinstance(data.get("form"), dict) else {}
    return EngineTurn(
        messages=[m for m in data["messages"] if isinstance(m, dict)],
        intent={"name": intent.get("name"), "confidence": float(intent.get("confidence") or 0.0)},
        events=int(data.get("events") or 0),
        form=form.get("name") or None,
        requested_slot=form.get("requested_slot") or None,
    )


class RasaClient:
    """Talks to one Rasa engine.  Use as ``async with RasaClient(...) as engine`` or call ``close()``."""

    def __init__(self, base_url: str, token: str = "", timeout: float = 30.0,
                 replicas: Sequence[str] = ()) -> None:
        if not base_url:
            raise EngineUnavailable("no engine URL configured")
        self.base_url = base_url.rstrip("/")
        # every engine a model activation must reach; none named: the one at base_url
        self.replicas = [url.rstrip("/") for url in replicas] or [self.base_url]
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(5.0, timeout))
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RasaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        # created lazily so the client can be constructed outside a running event loop
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self.timeout, connector=aiohttp.TCPConnector(limit=100)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    def _auth(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}

    async def _request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
        timeout: float | None = None, base: str | None = None,
    ) -> Any:
        url = (base or self.base_url) + path
        limit = aiohttp.ClientTimeout(total=timeout, connect=min(5.0, timeout)) if timeout else self.timeout
        try:
            async with self.session.request(method, url, json=json, params=params, timeout=limit) as resp:
                if resp.status == 401 or resp.status == 403:
                    raise EngineUnavailable(f"engine refused the token ({resp.status}) at {path}")
                if resp.status >= 400:
                    body = (await resp.text())[:200]
                    raise EngineUnavailable(f"engine answered {resp.status} at {path}: {body}")
                return await resp.json(content_type=None)
        except EngineUnavailable:
            raise
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            reason = type(exc).__name__ if isinstance(exc, TimeoutError) else str(exc)
            raise EngineUnavailable(f"engine at {base or self.base_url} not answering: {reason}") from exc

    async def send(
        self, session: str, text: str, metadata: dict[str, Any] | None = None, intent: str | None = None
    ) -> EngineTurn:
        """One conversation turn for sender ``session``.  ``intent`` skips the NLU for a message the app
        stands in for (the status check's digits, which never reach the engine)."""
        body: dict[str, Any] = {"sender": session, "message": text, "metadata": metadata or {}}
        if intent:
            body["intent"] = intent
        return _turn(await self._request("POST", "/webhooks/civic/webhook", json=body))

    async def execute(self, session: str, action: str) -> None:
        """Run ``action`` in ``session``'s conversation between turns (the engine's ``/execute``, under the
        conversation's lock); used to compact a long session (bot/session.py)."""
        await self._request(
            "POST", f"/conversations/{quote(session, safe='')}/execute", json={"name": action},
            params={**self._auth(), "include_events": "NONE"},
        )

    async def parse(self, text: str) -> dict[str, Any]:
        """NLU only: intent, entities and ranking for ``text`` (``/model/parse``)."""
        data = await self._request("POST", "/model/parse", json={"text": text}, params=self._auth())
        if not isinstance(data, dict):
            raise EngineUnavailable("engine returned a malformed parse result")
        return data

    async def load_model(self, model_file: str, timeout: float = 180.0) -> None:
        """Hot-swap: each engine replica loads ``model_file`` (an absolute path on their shared home) with
        ``PUT /model``, one after the other so the others go on answering; an engine stalls while loading and
        keeps the old model when the load fails.  The supervisor and the curation loop use it.  A replica
        that fails stops the round: EngineUnavailable names it and those already swapped."""
        done: list[str] = []
        for base in self.replicas:
            try:
                await self._request("PUT", "/model", json={"model_file": model_file}, params=self._auth(),
                                    timeout=timeout, base=base)
            except EngineUnavailable as exc:
                if not done:
                    raise
                raise EngineUnavailable(f"{exc}; already loaded by {', '.join(done)} (the replicas now "
                                        "differ: activate again)") from exc
            done.append(base)

    async def loaded_models(self) -> dict[str, str]:
        """Each replica's loaded model file ("" when it has none or does not answer)."""
        found = {}
        for base in self.replicas:
            try:
                data = await self._request("GET", "/status", params=self._auth(), timeout=5.0, base=base)
            except EngineUnavailable:
                data = {}
            found[base] = str(data.get("model_file") or "") if isinstance(data, dict) else ""
        return found

    async def status(self, timeout: float | None = None) -> dict[str, Any]:
        """The engine's ``/status``: loaded model file and id, running training jobs."""
        data = await self._request("GET", "/status", params=self._auth(), timeout=timeout)
        if not isinstance(data, dict):
            raise EngineUnavailable("engine returned a malformed status")
        return data

    async def health(self) -> EngineHealth:
        """Never raises: whether the engine answers and which model it has loaded."""
        try:
            data = await self.status(timeout=3.0)
        except EngineUnavailable as exc:
            return EngineHealth(reachable=False, error=str(exc))
        return EngineHealth(reachable=True, model=str(data.get("model_file") or ""))


async def load_model(engine_url: str, token: str, model: Path, timeout: float = 180.0,
                     replicas: Sequence[str] = ()) -> None:
    """``PUT /model`` on the engine at ``engine_url`` (or on each of ``replicas``) with a client of its own
    (the supervisor's and the CLI's hot-swap); raises EngineUnavailable when an engine cannot load it."""
    async with RasaClient(engine_url, token, timeout=timeout, replicas=replicas) as client:
        await client.load_model(str(Path(model).resolve()), timeout=timeout)


def replica_urls(value: str) -> list[str]:
    """The ``engine_urls`` setting (comma- or space-separated base URLs) as a list."""
    return [url for url in value.replace(",", " ").split() if url]
