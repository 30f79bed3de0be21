"""RasaClient: the app's one connection to the Rasa engine.

One ``aiohttp.ClientSession`` for the life of the app, every call bounded by a timeout.  Conversation
turns go through the engine's REST channel (``/webhooks/rest/webhook``, no token: the engine listens on
127.0.0.1 only); the HTTP API (``/status``, ``/model/parse``) is called with the engine's auth token.
Any failure to reach the engine or to understand its answer raises ``civic.errors.EngineUnavailable``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from civic.errors import EngineUnavailable


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


class Engine(Protocol):
    """What the app needs from an engine; RasaClient implements it, tests may pass a fake."""

    async def send(self, session: str, text: str) -> list[dict[str, Any]]: ...

    async def health(self) -> EngineHealth: ...

    async def close(self) -> None: ...


class RasaClient:
    """Talks to one Rasa engine.  Use as ``async with RasaClient(...) as engine`` or call ``close()``."""

    def __init__(self, base_url: str, token: str = "", timeout: float = 30.0) -> None:
        if not base_url:
            raise EngineUnavailable("no engine URL configured")
        self.base_url = base_url.rstrip("/")
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
        self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        url = self.base_url + path
        try:
            async with self.session.request(method, url, json=json, params=params) as resp:
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
            raise EngineUnavailable(f"engine at {self.base_url} not answering: {reason}") from exc

    async def send(self, session: str, text: str) -> list[dict[str, Any]]:
        """One conversation turn: the engine's bot messages for ``text`` from sender ``session``."""
        data = await self._request(
            "POST", "/webhooks/rest/webhook", json={"sender": session, "message": text}
        )
        if not isinstance(data, list):
            raise EngineUnavailable(f"engine returned {type(data).__name__} instead of a message list")
        return [m for m in data if isinstance(m, dict)]

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

    async def status(self) -> dict[str, Any]:
        """The engine's ``/status``: loaded model file and id, running training jobs."""
        data = await self._request("GET", "/status", params=self._auth())
        if not isinstance(data, dict):
            raise EngineUnavailable("engine returned a malformed status")
        return data

    async def health(self) -> EngineHealth:
        """Never raises: whether the engine answers and which model it has loaded."""
        try:
            data = await self.status()
        except EngineUnavailable as exc:
            return EngineHealth(reachable=False, error=str(exc))
        return EngineHealth(reachable=True, model=str(data.get("model_file") or ""))
