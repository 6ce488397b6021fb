"""A running `nianbao serve` announces itself in the home, so that `nianbao ask` can use it.

A fresh `nianbao ask` process pays about two seconds of imports (LangGraph, SQLAlchemy) before it
answers; a local API already has them loaded and answers a lookup in milliseconds. `nianbao serve`
writes ``serve.json`` (its URL and process id) into ``NIANBAO_HOME`` while it runs; the CLI asks that
server when the file names a live process, and answers in-process otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FILE_NAME = "serve.json"
# A server bound to every address is reached on the loopback one.
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def announcement_file(home: Path) -> Path:
    return Path(home) / FILE_NAME


def url_for(host: str, port: int) -> str:
    host = "127.0.0.1" if host in _ANY_ADDRESS else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def announced(home: Path, host: str, port: int) -> Iterator[Path]:
    """While the block runs, ``serve.json`` in ``home`` names this process's API; removed after."""
    path = announcement_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url_for(host, port), "pid": os.getpid()}), encoding="utf-8")
    tmp.replace(path)  # atomic: a reader never sees half a file
    try:
        yield path
    finally:
        try:
            if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass


def running_server(home: Path) -> str | None:
    """The URL of the live local API announced in ``home``, or None (no file, a stale one, garbage)."""
    try:
        info = json.loads(announcement_file(home).read_text(encoding="utf-8"))
        pid, url = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)  # signal 0: does the process exist
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it exists, owned by another user
    return url
