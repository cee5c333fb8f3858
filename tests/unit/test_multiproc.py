"""The shared metrics directory for several gateway processes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pixelgate.observability.multiproc import MULTIPROC_ENV, prepare_multiprocess


@pytest.fixture
def no_multiproc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset for the test and unset again afterwards, whatever the test sets."""
    monkeypatch.setenv(MULTIPROC_ENV, "placeholder")  # records the original state
    monkeypatch.delenv(MULTIPROC_ENV)


@pytest.mark.usefixtures("no_multiproc")
def test_one_worker_needs_no_directory(tmp_path: Path) -> None:
    assert prepare_multiprocess(1, tmp_path) is None
    assert not (tmp_path / "prometheus").exists()


@pytest.mark.usefixtures("no_multiproc")
def test_several_workers_get_a_fresh_directory(tmp_path: Path) -> None:
    stale = tmp_path / "prometheus" / "counter_123.db"
    stale.parent.mkdir()
    stale.write_bytes(b"old run")
    chosen = prepare_multiprocess(4, tmp_path)
    assert chosen == str(tmp_path / "prometheus")
    assert not stale.exists() and Path(chosen).is_dir()
    assert os.environ[MULTIPROC_ENV] == chosen


def test_an_operator_directory_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.db").write_bytes(b"x")
    monkeypatch.setenv(MULTIPROC_ENV, str(mine))
    assert prepare_multiprocess(4, tmp_path) == str(mine)
    assert (mine / "keep.db").exists()
