"""One generic registry for every plug-in kind (methods, datasets, metrics, experiments).

Entries are lazy ``"module:attr"`` strings, so listing names or rendering a report imports no
model library; the object is imported on first ``get``. Unknown names get a did-you-mean error.
"""
from __future__ import annotations

import difflib
import importlib
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, entries: dict[str, str]):
        self.kind = kind
        self._entries = dict(entries)  # name -> "module:attr"

    def register(self, name: str, target: str) -> None:
        """Add an entry (``"module:attr"``), e.g. a plug-in method outside this package."""
        if name in self._entries and self._entries[name] != target:
            raise KeyError(f"{self.kind} {name!r} is already registered as {self._entries[name]}")
        self._entries[name] = target

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def target(self, name: str) -> str:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self._entries, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}. Known: {', '.join(self._entries)}.{hint}")
        return self._entries[name]

    def get(self, name: str) -> T:
        module, attr = self.target(name).split(":")
        return getattr(importlib.import_module(module), attr)


# Methods: FLASH, the six baselines of Table 1 and the two reference methods that bracket it.
METHODS: Registry = Registry("method", {
    "flash": "flash.method:FlashMethod",
    "ti2v-zero": "baselines.ti2v_zero:TI2VZeroMethod",
    "sparsectrl": "baselines.sparsectrl:SparseCtrlMethod",
    "pia": "baselines.pia:PIAMethod",
    "dynamicrafter": "baselines.dynamicrafter:DynamiCrafterMethod",
    "dreamvideo": "baselines.dreamvideo:DreamVideoMethod",
    "lamp": "baselines.lamp:LAMPMethod",
    "static": "baselines.static:StaticMethod",
    "oracle": "baselines.oracle:OracleMethod",
})

DATASETS: Registry = Registry("dataset", {
    "synthetic": "flash_bench.datasets.synthetic:SyntheticDataset",
    "haa500": "flash_bench.datasets.haa500:HAA500Dataset",
    "ucf-sports": "flash_bench.datasets.ucf_sports:UCFSportsDataset",
    "folder": "flash_bench.datasets.folder:FolderDataset",
})
