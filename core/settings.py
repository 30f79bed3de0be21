"""Settings: the one place where configuration is read.

Precedence (highest first): explicit arguments (CLI flags) > environment variables ``CIVIC_*`` >
``<home>/civic.toml`` > defaults below.  Secrets (the engine token, the staff token, channel tokens) never
live in the repo: they come from the environment or from ``<home>/secrets.toml``, which is created on
first use (with a random engine token and staff token) and lives under the git-ignored data directory.
"""

from __future__ import annotations

import base64
import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from core.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HOME = Path("var")
DEFAULT_EMBEDDING_MODEL = "packaged:use-multilingual-v3"


@dataclass(frozen=True)
class Settings:
    home: Path = DEFAULT_HOME
    # the app (aiohttp)
    host: str = "127.0.0.1"
    port: int = 8000
    # the public base URL (https://host[/prefix]) of the catalog's feed and sitemap links; "" = the request's
    public_url: str = ""
    # the Rasa engine: always bound to 127.0.0.1; port 0 means "pick a free one"
    engine_port: int = 0
    engine_url: str = ""  # set to use an engine someone else runs (then serve does not start one)
    engine_token: str = ""
    # scale-out (docs/scaling.md): every engine replica a model activation must reach (comma-separated
    # base URLs; "" = engine_url alone), where engine replicas call the actions ("" = this app's /webhook),
    # and the shared stores of the engine replicas (endpoints.scale.yml): a PostgreSQL tracker store
    # (postgresql://USER@HOST:PORT/DB, password in tracker_store_password) and a Redis lock store
    # (redis://HOST:PORT/DB, password in lock_store_password); "" = tracker.db in the home, in-memory locks
    engine_urls: str = ""
    action_url: str = ""
    tracker_store_url: str = ""
    tracker_store_password: str = ""
    lock_store_url: str = ""
    lock_store_password: str = ""
    # staff API (/api/staff/*: hand-over tickets, releasing a paused conversation); "" disables it
    staff_token: str = ""
    rasa_bin: str = str(REPO_ROOT / ".venv-rasa" / "bin" / "rasa")
    project_dir: Path = REPO_ROOT  # where config.yml, domain.yml and data/ live
    # retrieval
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    dense_index_threshold: int = 50_000  # passages; above it the dense index is HNSW instead of flat
    # where passage vectors are cached by content (retrieval/embed_cache.py); "" = <home>/index/embeddings.db.
    # Evaluation and benchmark runs in throwaway homes can share one file so reruns embed nothing.
    embedding_cache: str = ""
    # worker processes that embed an index build (large batches only; a query is always embedded in the
    # serving process on one thread): 0 = as many as cores, 1 = in-process (retrieval/use_encoder.py)
    embedding_processes: int = 0
    # archive: an imported record whose body is longer than this is rejected
    max_body_chars: int = 200_000
    # the admin console's file import (/admin/documents/upload): larger uploads (all files, bytes) are refused
    max_upload_bytes: int = 20 * 1024 * 1024
    # dialogue
    max_text_chars: int = 500
    # a conversation's engine session is compacted (new session, slots carried over; bot/session.py) once
    # it holds this many events at the start of a turn (~7 per answered question); 0 never compacts
    max_session_events: int = 100
    # threads that run blocking work (searches, SQLite, actions) off the app's event loop (app/workers.py)
    worker_threads: int = 8
    # seconds between the app's checks of the archive's change sequence (new, changed, expired documents
    # reach the running app's search this often; retrieval/live.py)
    index_watch_seconds: float = 1.0
    # seconds between polls of each subscribed instance's change feed (app/peers.py, docs/catalog.md)
    peer_poll_seconds: float = 10.0
    # the admin console's analytics count local days and weeks in this IANA time zone (app.db keeps UTC)
    time_zone: str = "Asia/Shanghai"
    # channels (docs/channels.md): a channel whose token is empty is off and its routes answer 404
    telegram_token: str = ""  # from @BotFather
    telegram_webhook_secret: str = ""  # X-Telegram-Bot-Api-Secret-Token of POST /telegram/webhook
    telegram_api_url: str = "https://api.telegram.org/bot"  # the Bot API (a self-hosted one, a test fake)
    telegram_mode: str = "webhook"  # webhook | polling (no public URL needed)
    wechat_token: str = ""  # the Official Account's server token (signatures)
    wechat_app_id: str = ""
    wechat_app_secret: str = ""
    wechat_aes_key: str = ""  # EncodingAESKey: set -> safe mode (encrypted messages)
    wechat_api_url: str = "https://api.weixin.qq.com/cgi-bin/"  # the WeChat API (or a test fake)
    # the hotline (docs/hotline.md): where a submitted work order is POSTed (HMAC-signed with
    # hotline_webhook_secret, from secrets.toml; "" = orders wait in the outbox), and for how many days the
    # raw (unmasked) transcript of a call is kept with its order (0 = never kept: only the masked one)
    hotline_webhook_url: str = ""
    hotline_webhook_secret: str = ""
    hotline_raw_retention_days: int = 0
    # the admin console (app/admin/): a signed-in session ends after this many idle minutes
    admin_idle_minutes: int = 30
    # key that signs the console's session cookies; generated into secrets.toml
    session_key: str = ""
    # key that encrypts the contact details staff may need for a follow-up (app/contacts.py); generated
    contact_key: str = ""
    # proxies whose X-Forwarded-For / X-Forwarded-Proto the app believes (app/headers.py, docs/security.md):
    # comma-separated IPs or CIDRs, e.g. "127.0.0.1, 10.0.0.0/8"; "" = none, the peer is the client
    trusted_proxies: str = ""
    # sign-in attempts per client IP per minute (app/ratelimits.py; the account lock-out on top); 0 = off
    rate_sign_in_per_minute: int = 10
    # requests per client IP per minute on /api/chat and the public pages (an office NAT: many); 0 = off
    rate_ip_per_minute: int = 600
    # messages per minute in one /api/chat session (the web chat: connectors/ratelimit.py); 0 = off
    rate_session_per_minute: int = 60
    # posts per minute from one address to the Telegram and WeChat webhooks (their servers carry every chat)
    rate_webhook_per_minute: int = 1200
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def paths(self) -> HomePaths:
        return HomePaths(self.home)

    def with_overrides(self, **kwargs: Any) -> Settings:
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})


@dataclass(frozen=True)
class HomePaths:
    """Where each piece of state lives inside the data directory."""

    root: Path

    @property
    def archive_db(self) -> Path:
        return self.root / "archive.db"

    @property
    def index_dir(self) -> Path:
        return self.root / "index"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def tracker_db(self) -> Path:
        return self.root / "tracker.db"

    @property
    def app_db(self) -> Path:
        """Conversation-side state of the app: tickets, hand-overs, feedback, chat history."""
        return self.root / "app.db"

    @property
    def training_dir(self) -> Path:
        """Archive-generated training files (item names, synonyms, jieba dictionary) and the progress file."""
        return self.root / "training"

    @property
    def training_progress(self) -> Path:
        return self.training_dir / "progress.json"

    @property
    def curation_dir(self) -> Path:
        """Curated training data (numbered versions), candidate models and their reports (app/curation/)."""
        return self.root / "curation"

    @property
    def review_dir(self) -> Path:
        """What the review before publishing reads from the home (archive/review.py)."""
        return self.root / "review"

    @property
    def negative_list(self) -> Path:
        """The city's negative list: matters not to be published, one term per line, ``#`` comments."""
        return self.review_dir / "negative_list.txt"

    @property
    def peers_dir(self) -> Path:
        """The feed tokens of subscribed instances (``civic peers add``), one 0600 file per peer."""
        return self.root / "peers"

    @property
    def hotline_dir(self) -> Path:
        return self.root / "hotline"

    @property
    def hotline_routing(self) -> Path:
        """The hotline's routing table (YAML, category → department; docs/hotline.md), edited by admins."""
        return self.hotline_dir / "routing.yml"

    @property
    def hotline_classifier(self) -> Path:
        """The hotline classifier's model files and vectors (app/hotline_classifier.py)."""
        return self.hotline_dir / "classifier"

    @property
    def originals_dir(self) -> Path:
        """Original files of imported documents, kept for the public catalog's download (app/catalog.py)."""
        return self.root / "originals"

    @property
    def config_file(self) -> Path:
        return self.root / "civic.toml"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.toml"

    def ensure(self) -> HomePaths:
        for d in (self.root, self.index_dir, self.models_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self


_ENV_PREFIX = "CIVIC_"
_SECRET_KEYS = (
    "engine_token", "staff_token", "contact_key", "telegram_token", "telegram_webhook_secret", "wechat_token",
    "wechat_app_id", "wechat_app_secret", "wechat_aes_key", "session_key", "hotline_webhook_secret",
    "tracker_store_password", "lock_store_password",
)
# created when secrets.toml lacks them
_GENERATED_SECRETS = ("engine_token", "staff_token", "contact_key", "session_key")


def _new_secret(key: str) -> str:
    if key == "contact_key":  # a Fernet key: 32 random bytes, url-safe base64
        return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
    return secrets.token_hex(24)  # never starts with "-": the token goes on a command line


def _coerce(name: str, value: Any, source: str) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    kind = kinds.get(name)
    if kind is None:
        raise ConfigError(f"unknown setting {name!r} in {source}")
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "Path":
            return Path(value)
        return value if kind != "str" else str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name!r} in {source}: {exc}") from exc


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _ensure_secrets(path: Path) -> dict[str, Any]:
    data = _read_toml(path)
    missing = [key for key in _GENERATED_SECRETS if not data.get(key)]
    if missing:
        path.parent.mkdir(parents=True, exist_ok=True)
        for key in missing:
            data[key] = _new_secret(key)
        lines = [f'{k} = "{v}"' for k, v in data.items() if isinstance(v, str)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return data


def load_settings(home: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings for one data directory.

    ``home`` falls back to ``$CIVIC_HOME`` and then ``./var``.
    """
    # resolved once, here: every path derived from the home is absolute, so a child process started in
    # another working directory (the engine, training) finds the same files
    home_path = Path(home or os.environ.get("CIVIC_HOME") or DEFAULT_HOME).expanduser().resolve()
    values: dict[str, Any] = {"home": home_path}
    paths = HomePaths(home_path)
    for key, value in _read_toml(paths.config_file).items():
        values[key] = _coerce(key, value, str(paths.config_file))
    for key, value in _ensure_secrets(paths.secrets_file).items():
        if key in _SECRET_KEYS:
            values[key] = value
    for f in fields(Settings):
        env = os.environ.get(_ENV_PREFIX + f.name.upper())
        if env is not None and f.name != "home":
            values[f.name] = _coerce(f.name, env, _ENV_PREFIX + f.name.upper())
    for key, value in overrides.items():
        if value is not None:
            values[key] = _coerce(key, value, "command line")
    return Settings(**values)
