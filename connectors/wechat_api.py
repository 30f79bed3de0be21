"""The WeChat API side of the WeChat channel (wechatpy, synchronous: called on the app's thread pool).

- :class:`CivicWeChatClient`: wechatpy's client with its base URL configurable (``wechat_api_url``: the
  public API, or a test fake), the access token fetched from ``<base>token`` too;
- :class:`SharedTokens`: the access token cached in ``app.db`` (``connectors/channel_state.py``), so the app's
  replicas share one token instead of each fetching its own (WeChat caps the fetches per day); a token is
  refetched a minute before it expires;
- :func:`load_menu` / :func:`publish_menu`: ``civic wechat menu FILE.yml`` — the custom menu, validated
  against WeChat's limits before it is sent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from wechatpy import WeChatClient

from connectors.channel_state import ChannelState
from core.errors import InvalidInput

ACCESS_TOKEN_MARGIN = 60.0  # seconds before expiry a cached token counts as expired
WINDOW_PASSED = 45015  # the 48-hour customer-service window has passed: the user must write first
MAX_TOP, MAX_SUB = 3, 5
MAX_KEY_BYTES = 128


class SharedTokens:
    """wechatpy's SessionStorage over the app's channel state."""

    def __init__(self, state: ChannelState) -> None:
        self.state = state

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.get(f"wechat:{key}", default, fresh_for=ACCESS_TOKEN_MARGIN)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.state.set(f"wechat:{key}", value, ttl)

    def delete(self, key: str) -> None:
        self.state.delete(f"wechat:{key}")


class CivicWeChatClient(WeChatClient):
    def __init__(self, app_id: str, secret: str, api_url: str, session: Any = None, timeout: float = 10.0
                 ) -> None:
        super().__init__(app_id, secret, session=session, timeout=timeout)
        self.API_BASE_URL = api_url if api_url.endswith("/") else api_url + "/"

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=self.API_BASE_URL + "token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def _check_button(button: Any, where: str, top: bool) -> dict[str, Any]:
    if not isinstance(button, dict) or not button.get("name"):
        raise InvalidInput(f"{where}: every button needs a name")
    name = str(button["name"])
    limit = 16 if top else 60  # bytes, WeChat's limits for a top-level and a sub-menu name
    if len(name.encode("utf-8")) > limit:
        raise InvalidInput(f"{where}: the name {name!r} is longer than {limit} bytes")
    out: dict[str, Any] = {"name": name}
    subs = button.get("sub_button")
    if subs:
        if not top:
            raise InvalidInput(f"{where}: sub-menus cannot nest")
        if not isinstance(subs, list) or len(subs) > MAX_SUB:
            raise InvalidInput(f"{where}: a menu holds 1-{MAX_SUB} sub-buttons")
        out["sub_button"] = [_check_button(b, f"{where} > {i + 1}", False) for i, b in enumerate(subs)]
        return out
    kind = str(button.get("type") or ("view" if button.get("url") else "click"))
    if kind == "click":
        key = str(button.get("payload") or button.get("key") or "")
        if not key or len(key.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidInput(f"{where}: a click button needs a payload of 1-{MAX_KEY_BYTES} bytes")
        out.update(type="click", key=key)
    elif kind == "view":
        url = str(button.get("url") or "")
        if not url.startswith(("https://", "http://")):
            raise InvalidInput(f"{where}: a view button needs an http(s) url")
        out.update(type="view", url=url)
    else:
        raise InvalidInput(f"{where}: type must be click or view, not {kind!r}")
    return out


def load_menu(path: Path) -> dict[str, Any]:
    """A menu file -> WeChat's menu JSON.  The file is WeChat's own shape in YAML, where a click button may
    say ``payload`` (what the citizen's tap sends to the dialogue: an intent like ``/ask_status`` or a
    question) for ``key``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    buttons = data.get("button") if isinstance(data, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TOP:
        raise InvalidInput(f"{path}: 'button' must list 1-{MAX_TOP} buttons")
    return {"button": [_check_button(b, f"{path}: button {i + 1}", True) for i, b in enumerate(buttons)]}


def publish_menu(client: CivicWeChatClient, menu: dict[str, Any]) -> Any:
    return client.menu.create(menu)
