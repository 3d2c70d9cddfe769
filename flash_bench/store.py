"""The run directory: videos, per-video records, set-level scores and the manifest.

Layout (``RUN_DIR``)::

    manifest.json                          command, config, seeds, profile, versions, git commit, failures
    videos/<method>/<action>/<item>.mp4    generated videos
    items/<method>/<action>/<item>.json    one record per video: bookkeeping + per-video metric values
    sets/<method>.json                     set-level metrics (e.g. cd_fvd) for a method
    per_video.csv, summary.csv             derived tables, rewritten at the end of every run

Every file is written to a temporary name in the same folder and renamed, so a killed run leaves
either the old file or the new one, never half of one. A run holds ``.lock`` (an ``flock``) for its
whole life; a second process on the same run dir is refused. :meth:`RunStore.claim` refuses a run dir that
another command made (``evaluate`` into a ``run`` dir, or the other way round), or the same command with
other inputs, before anything is written. A record or set file that is not valid JSON (damaged outside the
suite) is named in ``RunStore.unreadable`` and treated as absent, so its item is redone.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from flash_bench.types import InputError

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


def read_json(path: Path):
    """A JSON file's content; :class:`InputError` naming the file when it is unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable ({type(e).__name__}: {e})") from None


class RunStore:
    def __init__(self, run_dir: Path | str):
        self.root = Path(run_dir)
        self._lock_file = None
        self.unreadable: dict[str, str] = {}   # path -> error, for records / set files that are not valid JSON

    # -- locking ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator["RunStore"]:
        """Hold the run dir; :class:`InputError` naming it when it cannot be a writable folder."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=self.root).close()   # the folder itself takes new files
            f = open(self.root / ".lock", "a")
        except (FileExistsError, NotADirectoryError):
            raise InputError(f"run dir {self.root}: it, or a folder above it, is a file; choose another --run-dir") \
                from None
        except OSError as e:
            raise InputError(f"run dir {self.root}: not writable ({e.strerror}); choose another --run-dir") from None
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

    def claim(self, made_by: str, inputs: dict) -> None:
        """Refuse (:class:`InputError`) a run dir made by another command than ``made_by``, or by it with
        other ``inputs`` (compared with the old manifest's config), or a non-empty folder that is no run dir."""
        old = self.read_manifest()
        if not old:
            strays = sorted(p.name for p in self.root.iterdir() if p.name != ".lock")
            if strays:
                raise InputError(f"{self.root}: not a flash-bench run dir and not empty ({', '.join(strays[:5])}); "
                                 "choose another --run-dir")
            return
        config = old.get("config") or {}
        old_by = old.get("made_by") or ("evaluate" if [c.get("method") for c in config.get("cells", [])]
                                        == ["precomputed"] else "run")
        if old_by != made_by:
            raise InputError(f"{self.root}: made by `flash-bench {old_by}`; `flash-bench {made_by}` would overwrite "
                             "its records — choose another --run-dir")
        new = json.loads(json.dumps(inputs, default=str))
        changed = [f"{k}: {config.get(k)!r} -> {v!r}" for k, v in new.items() if config.get(k) != v]
        if changed:
            raise InputError(f"{self.root}: made by `flash-bench {made_by}` with other inputs ({'; '.join(changed)});"
                             " choose another --run-dir")

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
        return read_json(p) if p.exists() else {}

    def write_manifest(self, manifest: dict) -> None:
        atomic_write_json(self.root / "manifest.json", manifest)

    @contextlib.contextmanager
    def closed_manifest(self, manifest: dict):
        """Mark the manifest ``running``, yield the failures list to fill, and close it either way: ``finished``,
        or ``failed`` with the error that stopped the run (then re-raised). Unreadable records and set files that
        are left (the redone ones are fixed) join the failures."""
        failures: list[dict] = []
        self.write_manifest({**manifest, "status": "running"})
        try:
            yield failures
        except BaseException as e:
            failures.append({"error": f"run stopped: {type(e).__name__}: {e}".strip()})
            with contextlib.suppress(Exception):
                self.write_manifest({**manifest, "status": "failed", "failures": failures + self._unreadable()})
            raise
        self.write_manifest({**manifest, "status": "finished", "failures": failures + self._unreadable()})

    def _unreadable(self) -> list[dict]:
        return [{"file": p, "error": e} for p, e in self.unreadable.items()]

    # -- per-video records -------------------------------------------------------------------
    def finished(self, method: str, action: str, item: str) -> bool:
        """An ok record (valid JSON) with its video: never redone."""
        record = self.read_record(method, action, item)
        return bool(record) and record["status"] == "ok" and self.video_path(method, action, item).exists()

    def read_record(self, method: str, action: str, item: str) -> dict | None:
        return self._read_or_none(self.record_path(method, action, item))

    def _read_or_none(self, p: Path) -> dict | None:
        if not p.exists():
            return None
        try:
            obj = read_json(p)
            if not isinstance(obj, dict):
                raise InputError(f"{p}: not a JSON object")
        except InputError as e:
            self.unreadable[str(p)] = str(e)
            return None
        self.unreadable.pop(str(p), None)
        return obj

    def write_record(self, record: dict) -> None:
        atomic_write_json(self.record_path(record["method"], record["action"], record["item"]), record)

    def update_metrics(self, method: str, action: str, item: str, values: dict, errors: dict | None = None) -> None:
        """Merge per-video metric values into a record (``None`` means missing, never zero). ``errors`` (metric ->
        message) marks metrics that failed on this video, so a rerun computes them again; a value clears it."""
        record = self.read_record(method, action, item)
        if record is None:
            raise KeyError(f"no record for {method}/{action}/{item} in {self.root}")
        record.setdefault("metrics", {}).update(values)
        failed = {k: v for k, v in (record.get("metric_errors") or {}).items() if k not in values}
        failed.update(errors or {})
        record.pop("metric_errors", None)
        if failed:
            record["metric_errors"] = failed
        self.write_record(record)

    def records(self) -> list[dict]:
        base = self.root / "items"
        paths = sorted(base.glob("*/*/*.json")) if base.exists() else []
        return [r for r in map(self._read_or_none, paths) if r is not None]

    # -- set-level metrics -------------------------------------------------------------------
    def write_set_metrics(self, method: str, values: dict) -> None:
        p = self.root / "sets" / f"{method}.json"
        atomic_write_json(p, {**(self._read_or_none(p) or {}), **values})

    def set_metrics(self) -> dict[str, dict]:
        base = self.root / "sets"
        sets = {p.stem: self._read_or_none(p) for p in sorted(base.glob("*.json"))} if base.exists() else {}
        return {k: v for k, v in sets.items() if v is not None}
