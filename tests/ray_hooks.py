"""Misbehaviour for the Ray workers of tests/test_ray_ingest.py, installed in each worker at its start
(Ray's ``worker_process_setup_hook``), since Ray's workers are not forked from the test like the pool's.

In the folder ``$NIANBAO_RAY_TEST_DIR``, table extraction
- of a file named ``hang*.pdf`` records its pid in ``hang.pids`` and hangs with its signals blocked (a
  process stuck in a C call: only SIGKILL ends it);
- of the file named in ``stall`` (written by the test) records its pid in ``stalled`` and sleeps, the
  first time; the test kills that worker, and the retry records its pid in ``resumed`` and goes on.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

HANG_S = 120.0


def _append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def install() -> None:
    folder = os.environ.get("NIANBAO_RAY_TEST_DIR")
    if not folder:
        return
    import ingestion.extract

    real, where = ingestion.extract.extract_tables, Path(folder)

    def extract_tables(path, pages):
        name = Path(path).name
        if name.startswith("hang"):
            _append(where / "hang.pids", str(os.getpid()))
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM})
            time.sleep(HANG_S)
        stall = where / "stall"
        if stall.exists() and name == stall.read_text(encoding="utf-8"):
            if not (where / "stalled").exists():
                _append(where / "stalled", str(os.getpid()))
                time.sleep(HANG_S)
            else:
                _append(where / "resumed", str(os.getpid()))
        return real(path, pages)

    ingestion.extract.extract_tables = extract_tables
