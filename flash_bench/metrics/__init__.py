"""The paper's six metrics (A3.3) and the synthetic-only action yardstick. ``METRICS`` is the lazy registry (id → class); ``METRIC_INFO`` holds the
torch-free facts a report needs. Importing this package imports no model library."""
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
})

# id → facts for reports (kept equal to the classes' attributes by tests/test_metrics_registry.py).
METRIC_INFO: dict[str, dict] = {
    "text_alignment": {"label": "Text Alignment", "higher_is_better": True, "scale": "cosine x 100", "decimals": 2,
                       "level": "video", "needs_ground_truth": False},
    "image_alignment": {"label": "Image Alignment", "higher_is_better": True, "scale": "cosine x 100", "decimals": 2,
                        "level": "video", "needs_ground_truth": False},
    "temporal_consistency": {"label": "Temporal Consistency", "higher_is_better": True, "scale": "cosine x 100",
                             "decimals": 2, "level": "video", "needs_ground_truth": False},
    "cd_fvd": {"label": "CD-FVD", "higher_is_better": False, "scale": "Frechet distance of VideoMAE-v2 features",
               "decimals": 2, "level": "set", "needs_ground_truth": False},
    "cosine_rgb": {"label": "Cosine RGB", "higher_is_better": True, "scale": "cosine", "decimals": 4,
                   "level": "video", "needs_ground_truth": True},
    "cosine_flow": {"label": "Cosine Flow", "higher_is_better": True, "scale": "cosine", "decimals": 4,
                    "level": "video", "needs_ground_truth": True},
    "action_accuracy": {"label": "Action Accuracy", "higher_is_better": True,
                        "scale": "percent of videos classified as the intended action (yardstick; chance 8.3)",
                        "decimals": 1, "level": "video", "needs_ground_truth": False},
    "action_confidence": {"label": "Action Confidence", "higher_is_better": True,
                          "scale": "probability of the intended action x 100 (yardstick; uniform 8.3)",
                          "decimals": 1, "level": "video", "needs_ground_truth": False},
}
