"""The run manifest: what was run, how, with which code and packages — so a result explains itself."""
from __future__ import annotations

import datetime
import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path

from flash_bench.types import Profile

PACKAGES = ("flash-bench", "torch", "torchvision", "diffusers", "transformers", "open_clip_torch", "cd-fvd",
            "numpy", "scipy", "av", "pandas", "safetensors")


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit(repo: Path | None = None) -> str | None:
    """The checkout's commit, with ``+dirty`` when tracked files differ from it; None outside git."""
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo,
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "")


def cpu_capability() -> str | None:
    """The CPU and its widest vector extension, e.g. "Intel(R) Xeon(R) Processor (avx512f)", read from
    /proc/cpuinfo (writing a manifest imports nothing heavy).
    Runs on CPUs with different vector kernels differ in the last float bits, which sampling steps can grow
    (flash_bench.regress names it on drift). None where /proc/cpuinfo is absent."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    flags = set(fields.get("flags", "").split())
    widest = next((f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags), "none")
    return f"{fields.get('model name', 'unknown CPU')} ({widest})"


def new_manifest(config: dict, command: list[str], made_by: str = "run") -> dict:
    return {
        "made_by": made_by,   # the flash-bench command that owns the run dir (RunStore.claim)
        "command": command,
        "config": config,
        "dataset": config["dataset"],
        "dataset_root": config.get("root"),
        "profile": config["profile"],
        "tiny_backbones": Profile.parse(config["profile"]) is Profile.TINY,
        "methods": [c["label"] for c in config["cells"]],
        "experiment": config.get("experiment"),
        "seed": config["seed"],
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_capability": cpu_capability(),
        "git_commit": git_commit(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "failures": [],
    }
