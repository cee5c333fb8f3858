"""Metrics across worker processes: the shared directory of prometheus_client's multiprocess
mode. Kept apart from metrics.py because it must run before prometheus_client is imported
(the library reads PROMETHEUS_MULTIPROC_DIR once, at import)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = ["MULTIPROC_ENV", "prepare_multiprocess"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess(workers: int, data_dir: Path) -> str | None:
    """Before worker processes start: give them a fresh shared metrics directory when there
    will be several and the operator named none. Returns the directory in use, if any."""
    existing = os.environ.get(MULTIPROC_ENV)
    if existing or workers <= 1:
        return existing or None
    path = data_dir / "prometheus"
    shutil.rmtree(path, ignore_errors=True)  # counters of a previous run must not add up
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return str(path)
