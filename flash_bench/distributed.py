"""Ranks: a run spread over processes, GPUs and nodes with torch.distributed (``torchrun``, ``srun``).

``torchrun --nproc-per-node N -m flash_bench run …`` (or ``--nnodes``, or Slurm's ``srun``) starts N copies of the
same command. Each finds its place from the environment torch's ``env://`` rendezvous reads (``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``; under a bare ``srun`` they are taken from
``SLURM_PROCID``/``SLURM_NTASKS``/``SLURM_LOCALID``) and joins one process group: gloo on the CPU, NCCL when the
run's device is CUDA (each rank on the GPU of its ``LOCAL_RANK``). Discovery and messaging are torch's; this module
only says which share of a list is this rank's (:meth:`Ranks.mine`) and wraps the few collectives the runner and
the scoring use (barrier, broadcast and all-gather of picklable objects).

A process started without them is rank 0 of 1: every share is the whole list and every collective a no-op, so the
single-machine code path is the same code.
"""
from __future__ import annotations

import atexit
import contextlib
import datetime
import os
from dataclasses import dataclass
from typing import Callable, Iterator, TypeVar

from flash_bench.types import InputError

T = TypeVar("T")
# Ranks wait for each other at a barrier while the slowest finishes its fits (a paper-size FLASH fit takes hours):
# the collectives' timeout must outlast the longest share, not torch's default 10-30 minutes.
TIMEOUT = datetime.timedelta(hours=72)
_SLURM = {"RANK": "SLURM_PROCID", "WORLD_SIZE": "SLURM_NTASKS", "LOCAL_RANK": "SLURM_LOCALID"}


def launch_env(env: dict | None = None) -> dict[str, str]:
    """The launcher's variables in torch's names: torchrun's as they are; a bare ``srun`` of several tasks (no
    ``RANK``) mapped from Slurm's. Empty for a plain process."""
    env = os.environ if env is None else env
    if "RANK" in env and "WORLD_SIZE" in env:
        return {k: env[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE") if k in env}
    if int(env.get("SLURM_NTASKS", "1")) > 1 and "SLURM_PROCID" in env:
        out = {torch_name: env[slurm] for torch_name, slurm in _SLURM.items() if slurm in env}
        per_node = env.get("SLURM_NTASKS_PER_NODE", "")
        if per_node.isdigit():
            out["LOCAL_WORLD_SIZE"] = per_node
        return out
    return {}


def rank_of_this_process() -> int:
    """This process's rank, read from the environment without joining any group (0 for a plain process)."""
    return int(launch_env().get("RANK", "0"))


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a run: ``rank`` of ``size``, ``local_rank`` of ``local_size`` on its node."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @classmethod
    def from_env(cls, device: str = "cpu") -> "Ranks":
        """Join (once per process) the process group the launcher set up; rank 0 of 1 without a launcher."""
        env = launch_env()
        size = int(env.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        import torch
        import torch.distributed as dist

        local_rank = int(env.get("LOCAL_RANK", "0"))
        local_size = int(env.get("LOCAL_WORLD_SIZE", "1"))
        if not dist.is_initialized():
            missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
            if missing:
                raise InputError(f"{size} ranks, but {' and '.join(missing)} not set: launch with torchrun, or "
                                 "export them before srun (docs/scale_out.md)")
            os.environ.update(env)   # srun: torch's env:// reads RANK and WORLD_SIZE
            cuda = device != "cpu"
            if cuda:
                torch.cuda.set_device(local_rank)   # "cuda" is this rank's GPU from here on
            else:
                torch.set_num_threads(cls(local_size=local_size).share(os.cpu_count() or 1))
            dist.init_process_group("nccl" if cuda else "gloo", init_method="env://", timeout=TIMEOUT)
            atexit.register(dist.destroy_process_group)
        return cls(dist.get_rank(), dist.get_world_size(), local_rank, local_size)

    @property
    def main(self) -> bool:
        """Rank 0: the one that holds the run-dir lock, writes the history, index, set metrics and tables."""
        return self.rank == 0

    def mine(self, work: list[T]) -> list[T]:
        """This rank's share of ``work`` (the same list on every rank): every ``size``-th element from ``rank`` —
        deterministic, and even when neighbours cost alike (a cell's actions, a request's videos)."""
        return work[self.rank::self.size]

    def share(self, n: int) -> int:
        """This rank's part of ``n`` per-node resources (CPU cores, worker threads), at least 1."""
        return max(1, n // self.local_size)

    def barrier(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank."""
        if self.size == 1:
            return obj
        import torch.distributed as dist

        box = [obj if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj: T) -> list[T]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if self.size == 1:
            return [obj]
        import torch.distributed as dist

        out: list = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    @contextlib.contextmanager
    def on_main(self, enter: Callable[[], contextlib.AbstractContextManager], elsewhere=None) -> Iterator:
        """``with enter()`` on rank 0; elsewhere just yield ``elsewhere``."""
        if self.main:
            with enter() as value:
                yield value
        else:
            yield elsewhere
