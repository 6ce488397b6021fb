"""A throw-away PostgreSQL server from Debian's binaries (initdb + pg_ctl on a private socket, no TCP), for
the tests (``tests/conftest.py``'s ``postgres_cluster``) and the benchmarks that measure PostgreSQL."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def pg_bin(name: str) -> str | None:
    return shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None)


def have_postgres_server() -> bool:
    return bool(pg_bin("initdb") and pg_bin("pg_ctl"))


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # initdb refuses to run as root; the Debian package creates the `postgres` user.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def throwaway_postgres(port: str = "55433") -> Iterator[str]:
    """A fresh cluster while the block runs: its libpq URL of the ``postgres`` database. Stopped and removed after."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    # Not under a private temporary dir of root's: the server runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="nianbao-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    try:
        subprocess.run(_as_postgres_user([initdb, "-D", str(data), "-U", "postgres", "-A", "trust"]),
                       check=True, capture_output=True)
        subprocess.run(_as_postgres_user([pg_ctl, "-D", str(data), "-w", "-l", str(root / "log"),
                                          "-o", f"-p {port} -k {sock} -c listen_addresses=''", "start"]),
                       check=True, capture_output=True)
        yield f"postgresql://postgres@/postgres?host={sock}&port={port}"
    finally:
        if data.exists():
            subprocess.run(_as_postgres_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
                           check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
