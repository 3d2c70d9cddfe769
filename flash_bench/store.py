"""The run directory: videos, per-video records, set-level scores and the manifest.

Layout (``RUN_DIR``)::

    manifest.json                          command, config, seeds, profile, versions, git commit, failures
    videos/<method>/<action>/<item>.mp4    generated videos
    items/<method>/<action>/<item>.json    one record per video: bookkeeping + per-video metric values
    sets/<method>.json                     set-level metrics (e.g. cd_fvd) for a method
    per_video.csv, summary.csv             derived tables, rewritten at the end of every run

Every file is written to a temporary name in the same folder and renamed, so a killed run leaves
either the old file or the new one, never half of one. A run holds ``.lock`` (an ``flock``) for its
whole life; a second process on the same run dir is refused.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

_UMASK = os.umask(0o022)   # read once at import (os.umask can only be read by setting it), then restored
os.umask(_UMASK)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically. The temporary ends in ``.tmp`` (not the target's suffix), so
    readers globbing ``*.json`` never see a half-written record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix) for a writer; rename it into place on success.
    The file gets the mode a plain ``open`` would give it (0666 minus the umask), not mkstemp's 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        if os.path.exists(tmp):
            os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class RunLocked(RuntimeError):
    pass


class RunStore:
    def __init__(self, run_dir: Path | str):
        self.root = Path(run_dir)
        self._lock_file = None

    # -- locking ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator["RunStore"]:
        self.root.mkdir(parents=True, exist_ok=True)
        f = open(self.root / ".lock", "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise RunLocked(f"run dir {self.root} is in use by another flash-bench process; "
                            "wait for it to finish or choose another --run-dir") from None
        self._lock_file = f
        self._remove_stale_temporaries()
        try:
            yield self
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()
            self._lock_file = None

    def _remove_stale_temporaries(self) -> None:
        """Temp files of a killed writer (``.name.XXXX.tmp`` / ``.stem.XXXX.mp4``): never complete, safe to drop."""
        for p in self.root.rglob(".*"):
            if p.is_file() and p.name != ".lock" and p.name.count(".") >= 3:
                p.unlink(missing_ok=True)

    # -- paths -------------------------------------------------------------------------------
    def video_path(self, method: str, action: str, item: str) -> Path:
        return self.root / "videos" / method / action / f"{item}.mp4"

    def record_path(self, method: str, action: str, item: str) -> Path:
        return self.root / "items" / method / action / f"{item}.json"

    # -- manifest ----------------------------------------------------------------------------
    def read_manifest(self) -> dict:
        p = self.root / "manifest.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_json(self.root / "manifest.json", manifest)

    # -- per-video records -------------------------------------------------------------------
    def read_record(self, method: str, action: str, item: str) -> dict | None:
        p = self.record_path(method, action, item)
        return json.loads(p.read_text()) if p.exists() else None

    def write_record(self, record: dict) -> None:
        atomic_write_json(self.record_path(record["method"], record["action"], record["item"]), record)

    def update_metrics(self, method: str, action: str, item: str, values: dict) -> None:
        """Merge per-video metric values into a record (``None`` means missing, never zero)."""
        record = self.read_record(method, action, item)
        if record is None:
            raise KeyError(f"no record for {method}/{action}/{item} in {self.root}")
        record.setdefault("metrics", {}).update(values)
        self.write_record(record)

    def records(self) -> list[dict]:
        base = self.root / "items"
        return [json.loads(p.read_text()) for p in sorted(base.glob("*/*/*.json"))] if base.exists() else []

    # -- set-level metrics -------------------------------------------------------------------
    def write_set_metrics(self, method: str, values: dict) -> None:
        p = self.root / "sets" / f"{method}.json"
        old = json.loads(p.read_text()) if p.exists() else {}
        atomic_write_json(p, {**old, **values})

    def set_metrics(self) -> dict[str, dict]:
        base = self.root / "sets"
        return {p.stem: json.loads(p.read_text()) for p in sorted(base.glob("*.json"))} if base.exists() else {}
