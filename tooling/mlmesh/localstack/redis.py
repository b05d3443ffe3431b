"""A real Redis server as a local process: Feast's scale-out online store.

``redis-server`` from the Debian package (``make setup-redis`` installs it), bound to
127.0.0.1, no persistence (the online store holds each user's newest window;
the feature writer rebuilds it from ``feature_updates`` and the offline store
keeps history). The stack starts it when ``MLMESH_FEAST_ONLINE=redis``; every
service reaches it by ``MLMESH_REDIS_URL``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from mlmesh.common import ports
from mlmesh.localstack.base import LocalServer

SERVER = "redis-server"


def ping(url: str, timeout: float = 2.0) -> bool:
    """True when the Redis server at ``url`` answers PING (never raises)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout,
                                      socket_connect_timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


class RedisComponent(LocalServer):
    what = "redis"
    poll_interval = 0.1

    def __init__(self, state_dir: Path | str, port: int = ports.REDIS, name: str = "redis",
                 server: str | None = None) -> None:
        super().__init__(state_dir, name, port)
        self.server = server or shutil.which(SERVER) or f"/usr/bin/{SERVER}"
        self.data_dir = self.state_dir / "redis" / name

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def addresses(self) -> dict[str, str]:
        return {"url": self.url}

    def healthy(self) -> bool:
        return ping(self.url)

    def prepare(self) -> tuple[dict[str, str] | None, Path | None]:
        if not Path(self.server).is_file():
            raise RuntimeError(f"{SERVER} not found: run `make setup-redis` "
                               "(or apt-get install redis-server)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return None, self.data_dir

    def command(self) -> list[str]:
        return [self.server, "--bind", "127.0.0.1", "--port", str(self.port),
                "--dir", str(self.data_dir), "--save", "", "--appendonly", "no",
                "--daemonize", "no", "--protected-mode", "yes"]
