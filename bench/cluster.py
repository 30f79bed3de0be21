"""A scaled-out stack on one host, for the `scale` test and bench/scale_bench.py (docs/scaling.md).

``start_cluster(home, base, engines=2, apps=2)`` starts real PostgreSQL (a throwaway cluster: ``initdb`` as
the ``postgres`` user when run as root, loopback, a free port), real Redis (a free port, a password from the
home's secrets.toml), ``civic serve --role engine`` and ``--role app`` replicas on the one home, and nginx in
front (the public side over the apps, WebSocket proxying and X-Forwarded-For; the apps' action endpoint
for the engines; the engines for the apps).  The home's
civic.toml gets the scale-out settings: the apps reach the engines through nginx, the engines call the
actions through nginx, every engine is in ``engine_urls``.  ``Cluster.stop()`` stops everything it started.
``missing()`` names the binaries that are absent (the test skips then).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stack import CIVIC, Stack, StackFailed, free_port
from core.settings import REPO_ROOT

_SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
_PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def _which(name: str) -> str | None:
    found = shutil.which(name, path=_SBIN)
    if found:
        return found
    for folder in reversed(_PG_BIN):  # Debian keeps initdb and pg_ctl off the PATH
        if (folder / name).exists():
            return str(folder / name)
    return None


def missing() -> list[str]:
    """The binaries the cluster needs and this machine lacks."""
    wanted = ("initdb", "pg_ctl", "psql", "redis-server", "redis-cli", "nginx")
    return [name for name in wanted if _which(name) is None]


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


class Postgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth: loopback only, gone at stop)."""

    def __init__(self) -> None:
        # its own directory under /tmp: pytest's tmp dirs are 0700 root, which the postgres user cannot enter
        self.dir = Path(tempfile.mkdtemp(prefix="civic-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.started = False

    def start(self, database: str) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.dir.chmod(0o755)
        subprocess.run(_as_postgres([str(_which("initdb")), "-D", str(self.data), "--auth=trust",
                                     "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]),
                       check=True, capture_output=True, timeout=120)
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200")
        subprocess.run(_as_postgres([str(_which("pg_ctl")), "-D", str(self.data), "-o", options,
                                     "-l", str(self.dir / "postgres.log"), "-w", "start"]),
                       check=True, capture_output=True, timeout=120)
        self.started = True
        self.sql(f'CREATE DATABASE "{database}"', "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def sql(self, statement: str, database: str, variables: dict[str, str] | None = None) -> str:
        """Run one statement with psql (``:'name'`` variables from ``variables``); its unaligned output."""
        argv = [str(_which("psql")), "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1"]
        for name, value in (variables or {}).items():
            argv += ["-v", f"{name}={value}"]
        done = subprocess.run(argv, input=statement + ";\n", capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"psql: {done.stderr.strip()}")
        return done.stdout.strip()

    def stop(self) -> None:
        if self.started:
            pg_ctl = str(_which("pg_ctl"))
            subprocess.run(_as_postgres([pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"]),
                           capture_output=True, timeout=60)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)


NGINX_CONF = """\
{user}worker_processes 1;
daemon off;
pid {base}/nginx.pid;
error_log {base}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    client_body_temp_path {base}/nginx-tmp/body;
    proxy_temp_path {base}/nginx-tmp/proxy;
    fastcgi_temp_path {base}/nginx-tmp/fastcgi;
    uwsgi_temp_path {base}/nginx-tmp/uwsgi;
    scgi_temp_path {base}/nginx-tmp/scgi;
    log_format upstream '$server_port $upstream_addr $status "$request"';
    access_log {base}/nginx-access.log upstream;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream civic_apps {{
{apps}
    }}
    upstream civic_engines {{
{engines}
        keepalive 32;
    }}
    server {{  # the public side: web chat (REST and WebSocket), consoles, /webhook for the engines
        listen 127.0.0.1:{app_port};
        client_max_body_size 25m;
        location / {{
            proxy_pass http://civic_apps;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 300s;
        }}
    }}
    server {{  # the apps' action endpoint, for the engines only: loopback, no forwarding headers (the
               # endpoint refuses a request that carries them: it would come from outside)
        listen 127.0.0.1:{action_port};
        location = /webhook {{
            proxy_pass http://civic_apps;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 300s;
        }}
        location / {{ return 404; }}
    }}
    server {{  # the engines, for the apps only (loopback)
        listen 127.0.0.1:{engine_port};
        location / {{
            proxy_pass http://civic_engines;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


@dataclass
class Cluster:
    home: Path
    base: Path
    postgres: Postgres
    database: str
    engines: list[Stack] = field(default_factory=list)
    apps: list[Stack] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)  # redis, nginx
    app_port: int = 0
    engine_port: int = 0
    action_port: int = 0
    redis_port: int = 0
    redis_password: str = ""

    @property
    def url(self) -> str:
        """The apps behind nginx."""
        return f"http://127.0.0.1:{self.app_port}/"

    @property
    def engine_url(self) -> str:
        return f"http://127.0.0.1:{self.engine_port}"

    @property
    def engine_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{e.port}" for e in self.engines]

    def app_url(self, n: int) -> str:
        return self.apps[n].url

    def events(self, sender: str) -> list[dict[str, Any]]:
        """The sender's tracker events in PostgreSQL, in the order they were stored."""
        out = self.postgres.sql(
            "SELECT coalesce(json_agg(data::json ORDER BY id), '[]') FROM events WHERE sender_id = :'sender'",
            self.database, {"sender": sender})
        return list(json.loads(out or "[]"))

    def redis(self, *command: str) -> str:
        """A redis-cli command against the lock store's Redis."""
        env = {**os.environ, "REDISCLI_AUTH": self.redis_password}  # not on the command line
        done = subprocess.run([str(_which("redis-cli")), "-p", str(self.redis_port), *command], env=env,
                              capture_output=True, text=True, timeout=30, check=True)
        return done.stdout

    def upstreams(self, server_port: int, path: str) -> list[str]:
        """The upstream addresses nginx sent requests for ``path`` to, from its access log, in order."""
        log = self.base / "nginx-access.log"
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        return [parts[1] for parts in (line.split(" ", 3) for line in lines)
                if len(parts) == 4 and parts[0] == str(server_port) and f" {path}" in parts[3]]

    def diagnosis(self) -> str:
        tails = [f"--- {s.output.name}\n{s.log()[-1500:]}" for s in [*self.engines, *self.apps]]
        names = [*[f"rasa-{e.port}.log" for e in self.engines], *[f"app-{a.port}.log" for a in self.apps]]
        for name in names:
            path = self.home / "logs" / name
            if path.exists():
                tails.append(f"--- {name}\n{path.read_text(errors='replace')[-1500:]}")
        err = self.base / "nginx-error.log"
        if err.exists():
            tails.append(f"--- nginx\n{err.read_text(errors='replace')[-800:]}")
        return "\n".join(tails)

    def stop(self) -> list[Any]:
        """Stop every replica, nginx, Redis and PostgreSQL; the replica processes left behind (killed)."""
        left: list[Any] = []
        for stack in [*self.apps, *self.engines]:
            left += stack.stop()
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self.postgres.stop()
        return left


def _replica(home: Path, base: Path, role: str, port: int) -> Stack:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    flag = "--engine-port" if role == "engine" else "--port"
    output = base / f"{role}-{port}.out"
    with output.open("wb") as out:
        proc = subprocess.Popen(
            [str(CIVIC), "--home", str(home), "serve", "--role", role, flag, str(port)],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
    return Stack(home, port, port if role == "engine" else 0, proc, output)


def _add_settings(path: Path, values: dict[str, str | int]) -> None:
    kept = [line for line in (path.read_text(encoding="utf-8").splitlines() if path.exists() else [])
            if line.split("=", 1)[0].strip() not in values]
    kept += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")


def start_cluster(home: Path, base: Path, *, engines: int = 2, apps: int = 2,
                  timeout: float = 420.0) -> Cluster:
    """Everything described above on a prepared (trained) home; raises StackFailed when it does not start."""
    absent = missing()
    if absent:
        raise StackFailed(f"missing binaries: {', '.join(absent)}")
    database = "civic_tracker"
    cluster = Cluster(home, base, Postgres(), database, app_port=free_port(), engine_port=free_port(),
                      action_port=free_port())
    try:
        cluster.postgres.start(database)
        redis_port = cluster.redis_port = free_port()
        redis_password = cluster.redis_password = os.urandom(12).hex()
        cluster.procs.append(subprocess.Popen(
            [str(_which("redis-server")), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(base), "--requirepass", redis_password],
            stdout=(base / "redis.log").open("wb"), stderr=subprocess.STDOUT, start_new_session=True))
        engine_ports = [free_port() for _ in range(engines)]
        app_ports = [free_port() for _ in range(apps)]
        _add_settings(home / "civic.toml", {
            "tracker_store_url": f"{cluster.postgres.url}/{database}",
            "lock_store_url": f"redis://127.0.0.1:{redis_port}/1",
            "engine_url": cluster.engine_url,
            "engine_urls": ",".join(f"http://127.0.0.1:{p}" for p in engine_ports),
            "action_url": f"http://127.0.0.1:{cluster.action_port}/webhook",
            # every client of the test and the bench is 127.0.0.1 behind nginx: no per-address limit
            "rate_ip_per_minute": 0,
        })
        # a secret: in secrets.toml, not civic.toml
        _add_settings(home / "secrets.toml", {"lock_store_password": redis_password})
        (base / "nginx-tmp").mkdir(exist_ok=True)
        conf = NGINX_CONF.format(
            user="user root;\n" if os.geteuid() == 0 else "", base=base,
            apps="\n".join(f"        server 127.0.0.1:{p};" for p in app_ports),
            engines="\n".join(f"        server 127.0.0.1:{p};" for p in engine_ports),
            app_port=cluster.app_port, engine_port=cluster.engine_port, action_port=cluster.action_port)
        (base / "nginx.conf").write_text(conf, encoding="utf-8")
        cluster.procs.append(subprocess.Popen(
            [str(_which("nginx")), "-p", str(base), "-c", str(base / "nginx.conf")],
            stdout=(base / "nginx.out").open("wb"), stderr=subprocess.STDOUT, start_new_session=True))
        cluster.engines = [_replica(home, base, "engine", p) for p in engine_ports]
        cluster.apps = [_replica(home, base, "app", p) for p in app_ports]
        deadline = time.monotonic() + timeout
        for stack in [*cluster.engines, *cluster.apps]:
            stack.wait_ready(max(1.0, deadline - time.monotonic()))
        for proc in cluster.procs:
            if proc.poll() is not None:
                raise StackFailed(f"{proc.args!r} exited with {proc.returncode}")
    except BaseException as exc:
        detail = cluster.diagnosis()
        cluster.stop()
        if isinstance(exc, StackFailed):
            raise StackFailed(f"{exc}\n{detail}") from None
        raise
    return cluster
