"""Featurisers: one backbone per module (clip, videomae, i3d, raft_flow), each with a ``paper`` build (published
weights via :mod:`flash_bench.weights`) and a ``tiny`` build (same architecture, reduced, seeded random weights).
Imported only by :mod:`flash_bench.scoring`; nothing here is imported by ``--help`` or ``report``."""
