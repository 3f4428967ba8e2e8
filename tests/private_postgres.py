"""A private PostgreSQL server for tests that restart it (never the shared cluster).

``initdb`` into a temporary directory, run as the ``postgres`` OS user (via ``runuser`` when
the tests run as root), listening only on a Unix socket in that directory on a port other than
5432. :func:`private_postgres` skips the test when the PostgreSQL binaries
(``/usr/lib/postgresql/*/bin``) or the ``postgres`` user are absent.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

__all__ = ["PrivatePostgres", "private_postgres"]


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """One throw-away server: :attr:`url`, :meth:`stop`, :meth:`start`, :meth:`restart`."""

    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.port = port
        self.url = f"postgresql+psycopg://postgres@/postgres?host={root}&port={port}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        conf = self.data / "postgresql.conf"
        with open(conf, "a", encoding="utf-8") as fh:
            fh.write(
                f"\nlisten_addresses = ''\nport = {self.port}\n"
                f"unix_socket_directories = '{self.root}'\n"
                "fsync = on\nshared_buffers = 16MB\nmax_connections = 40\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (fast: open connections are terminated), stay down ``down_s``, start."""
        self.stop()
        time.sleep(down_s)
        self.start()


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private server, removed afterwards; skips when PostgreSQL is not installed."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (/usr/lib/postgresql/*/bin) are not installed")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no 'postgres' OS user to run a private PostgreSQL server")
    if os.geteuid() != 0 and os.geteuid() != user.pw_uid:
        pytest.skip("a private PostgreSQL server needs root (runuser) or the postgres user")
    root = Path(tempfile.mkdtemp(prefix="prefroute-pg-"))
    server = PrivatePostgres(bin_dir, root, 20000 + os.getpid() % 20000)
    try:
        os.chmod(root, 0o755)
        os.chown(root, user.pw_uid, user.pw_gid)
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
