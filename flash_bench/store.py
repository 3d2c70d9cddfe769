"""The run directory: content-keyed items, the requests they answer, per-metric scores and an invocation history.

Layout (docs/run_dir.md)::

    manifest.jsonl                        append-only history: a "start" and an "end" line per invocation
    index.json                            (method label, action, item) -> item key, as the latest invocations left it
    requests.json                         what every test item asks for: prompt, seed, reference, ground truth
    requests/<action>/<item>.png          reference images;  requests/<action>/<item>.truth.npz  ground truth
    items/<key>/record.json, video.mp4    one generated video and its record, stored under its content key
    scores/<metric>/<key>.json            one per-video score of one item
    sets/<method>.json                    set-level metrics (cd_fvd) of a method's current items
    scoring.json                          which backbones and weights produced the scores
    per_video.csv, summary.csv            derived tables, rewritten at the end of every run

An item's key hashes everything that determines its video (:func:`content_key`), so an item is never redone and
never stale: a change makes a new key, and the old item stays addressable under its own. Every file is written to a
temporary name in the same folder and renamed (a killed run leaves the old file or the new one); the history is
appended, one ``os.write`` per line. A run holds ``.lock`` (an ``flock``) for its whole life; a second process on the
same run dir is refused. :meth:`RunStore.claim` refuses a run dir that another command made, or the same command with
other inputs, before anything is written. A record, score or set file that is not valid JSON is named in
``RunStore.unreadable`` and treated as absent, so it is redone.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from flash_bench.types import InputError

_UMASK = os.umask(0o022)   # read once at import (os.umask can only be read by setting it), then restored
os.umask(_UMASK)
HISTORY = "manifest.jsonl"
KEY_CHARS = 32             # hex digits of sha256 kept in an item key (128 bits)


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


def canonical(obj) -> str:
    """The JSON text a key hashes: sorted keys, no spaces, paths and other objects as strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def content_key(inputs: dict) -> str:
    """An item's key: sha256 of the canonical JSON of everything that determines its video."""
    return hashlib.sha256(canonical(inputs).encode()).hexdigest()[:KEY_CHARS]


class RunLocked(RuntimeError):
    pass


def read_json(path: Path):
    """A JSON file's content; :class:`InputError` naming the file when it is unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable ({type(e).__name__}: {e})") from None


def read_history(root: Path) -> list[dict]:
    """Every invocation of a run dir, oldest first: its "start" line with its "end" line's fields over it (an
    invocation without an end line is still running, or was killed: status ``running``)."""
    path = Path(root) / HISTORY
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: unreadable ({type(e).__name__}: {e})") from None
    runs: dict[int, dict] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            inv = entry.pop("invocation")
            entry.pop("event")
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise InputError(f"{path}: unreadable (line {n}: {type(e).__name__}: {e})") from None
        runs.setdefault(inv, {"invocation": inv}).update(entry)
    return [runs[k] for k in sorted(runs)]


class RunStore:
    def __init__(self, run_dir: Path | str):
        self.root = Path(run_dir)
        self._lock_file = None
        self.unreadable: dict[str, str] = {}   # path -> error, for records / scores / set files that are not JSON

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
        other ``inputs`` (compared with the latest invocation's config), or a non-empty folder that is no run dir."""
        old = self.read_manifest()
        if not old:
            strays = sorted(p.name for p in self.root.iterdir() if p.name != ".lock")
            if strays:
                raise InputError(f"{self.root}: not a flash-bench run dir and not empty ({', '.join(strays[:5])}); "
                                 "choose another --run-dir")
            return
        config = old.get("config") or {}
        old_by = old.get("made_by") or "run"
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

    # -- the invocation history --------------------------------------------------------------
    def history(self) -> list[dict]:
        return read_history(self.root)

    def read_manifest(self) -> dict:
        """The latest invocation (``{}`` for a new run dir)."""
        runs = self.history()
        return runs[-1] if runs else {}

    def append_history(self, entry: dict) -> None:
        """Append one line, in one ``write`` on an ``O_APPEND`` descriptor, then fsync: earlier lines are never
        rewritten, and a reader sees the line whole or not at all."""
        path = self.root / HISTORY
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(fd, (canonical(entry) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def invocation(self, manifest: dict) -> Iterator[dict]:
        """Append this invocation's start line (status ``running``); yield its outcome (``failures`` to fill,
        ``items`` counts and its ``index`` entries to set); append its end line either way: ``finished``, or ``failed`` with the error that
        stopped the run (then re-raised). Unreadable files that are left (the redone ones are fixed) join the
        failures."""
        number = len(self.history()) + 1
        self.append_history({"invocation": number, "event": "start", **manifest, "status": "running"})
        outcome: dict = {"failures": [], "items": {}}
        status = "finished"
        try:
            yield outcome
        except BaseException as e:
            outcome["failures"].append({"error": f"run stopped: {type(e).__name__}: {e}".strip()})
            status = "failed"
            raise
        finally:
            with contextlib.suppress(Exception) if status == "failed" else contextlib.nullcontext():
                self.append_history({**outcome, "invocation": number, "event": "end", "status": status,
                                     "failures": outcome["failures"] + self._unreadable()})

    def _unreadable(self) -> list[dict]:
        return [{"file": p, "error": e} for p, e in self.unreadable.items()]

    # -- the index: which item each (method, action, item) is now ----------------------------
    def read_index(self) -> list[dict]:
        """``[{"method", "action", "item", "key"}]``, sorted."""
        p = self.root / "index.json"
        return read_json(p)["items"] if p.exists() else []

    def update_index(self, entries: list[dict]) -> None:
        """Point each entry's (method, action, item) at its key; other entries stay."""
        index = {(e["method"], e["action"], e["item"]): e["key"] for e in self.read_index()}
        index.update({(e["method"], e["action"], e["item"]): e["key"] for e in entries})
        atomic_write_json(self.root / "index.json", {"items": [
            {"method": m, "action": a, "item": i, "key": k} for (m, a, i), k in sorted(index.items())]})

    def key_of(self, method: str, action: str, item: str) -> str | None:
        return next((e["key"] for e in self.read_index()
                     if (e["method"], e["action"], e["item"]) == (method, action, item)), None)

    # -- items -------------------------------------------------------------------------------
    def item_dir(self, key: str) -> Path:
        return self.root / "items" / key

    def video_file(self, key: str) -> Path:
        return self.item_dir(key) / "video.mp4"

    def record_file(self, key: str) -> Path:
        return self.item_dir(key) / "record.json"

    def video_path(self, method: str, action: str, item: str) -> Path:
        """The video the index points (method, action, item) at (``KeyError`` when it points nowhere)."""
        return self.video_file(self._key(method, action, item))

    def record_path(self, method: str, action: str, item: str) -> Path:
        return self.record_file(self._key(method, action, item))

    def _key(self, method, action, item) -> str:
        key = self.key_of(method, action, item)
        if key is None:
            raise KeyError(f"no item {method}/{action}/{item} in {self.root}")
        return key

    def finished(self, key: str) -> bool:
        """An ok record (valid JSON) with its video: never redone."""
        record = self.record(key)
        return bool(record) and record.get("status") == "ok" and self.video_file(key).exists()

    def record(self, key: str) -> dict | None:
        return self._read_or_none(self.record_file(key))

    def write_record(self, record: dict) -> None:
        """A generation record, stored under ``record["key"]``; scores never go into it."""
        atomic_write_json(self.record_file(record["key"]), record)

    def read_record(self, method: str, action: str, item: str) -> dict | None:
        """The record (method, action, item) points at, with those three fields; None when there is none."""
        key = self.key_of(method, action, item)
        record = self.record(key) if key else None
        return {**record, "method": method, "action": action, "item": item} if record else None

    def records(self) -> list[dict]:
        """Every indexed item that has a record, with its ``method`` label, ``action`` and ``item``."""
        out = []
        for e in self.read_index():
            record = self.record(e["key"])
            if record is not None:
                out.append({**record, **e})
        return out

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

    # -- per-video scores: one file per metric and item --------------------------------------
    def score_file(self, metric: str, key: str) -> Path:
        return self.root / "scores" / metric / f"{key}.json"

    def write_score(self, metric: str, key: str, value: float | None, basis: str = "", error: str | None = None):
        """One item's value of one metric (``None``: missing, never zero); ``error`` marks a failed computation
        (retried next time); ``basis`` names what the value was computed from (backbones, ground truth)."""
        score = {"metric": metric, "key": key, "value": value, "basis": basis}
        if error:
            score["error"] = error
        atomic_write_json(self.score_file(metric, key), score)

    def score(self, metric: str, key: str) -> dict | None:
        return self._read_or_none(self.score_file(metric, key))

    def scores(self, key: str) -> dict[str, float | None]:
        """metric -> value of every score of an item."""
        base = self.root / "scores"
        metrics = sorted(p.name for p in base.iterdir()) if base.is_dir() else []
        return {m: s.get("value") for m in metrics if (s := self.score(m, key)) is not None}

    # -- set-level metrics -------------------------------------------------------------------
    def write_set_metrics(self, method: str, values: dict) -> None:
        p = self.root / "sets" / f"{method}.json"
        atomic_write_json(p, {**(self._read_or_none(p) or {}), **values})

    def set_metrics(self) -> dict[str, dict]:
        base = self.root / "sets"
        sets = {p.stem: self._read_or_none(p) for p in sorted(base.glob("*.json"))} if base.exists() else {}
        return {k: v for k, v in sets.items() if v is not None}
