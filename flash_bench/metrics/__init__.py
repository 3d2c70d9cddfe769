"""The paper's six metrics (A3.3), the synthetic-only action yardstick and figure-presence diagnostic.
``METRICS`` is the lazy registry (id → class).

A metric's facts (``label``, ``higher_is_better``, ``decimals``, ``scale``, ``level``, …) are its class attributes,
stated once; reports read them from the class (:func:`flash_bench.results.column_info`). Importing this package or
any metric class imports no model library: the metric modules need numpy only, the backbones live in
:mod:`flash_bench.features`."""
from __future__ import annotations

from flash_bench.registry import Registry

METRICS: Registry = Registry("metric", {
    "text_alignment": "flash_bench.metrics.text_alignment:TextAlignment",
    "image_alignment": "flash_bench.metrics.image_alignment:ImageAlignment",
    "temporal_consistency": "flash_bench.metrics.temporal_consistency:TemporalConsistency",
    "cd_fvd": "flash_bench.metrics.cd_fvd:CDFVD",
    "cosine_rgb": "flash_bench.metrics.cosine_rgb:CosineRGB",
    "cosine_flow": "flash_bench.metrics.cosine_flow:CosineFlow",
    # Synthetic-only yardstick (suite-trained action classifier): None elsewhere, never zero.
    "action_accuracy": "flash_bench.metrics.action_accuracy:ActionAccuracy",
    "action_confidence": "flash_bench.metrics.action_confidence:ActionConfidence",
    "action_refusal": "flash_bench.metrics.action_refusal:ActionRefusal",
    # Tiny-world diagnostic (reference figure visible in each frame; synthetic only): None elsewhere, never zero.
    "figure_presence": "flash_bench.metrics.figure_presence:FigurePresence",
})
