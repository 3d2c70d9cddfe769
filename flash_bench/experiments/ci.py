"""`ci`: a CPU-sized experiment for the metrics regression in CI (static, oracle, FLASH; 2 actions, 1 item each)."""
from flash_bench.experiments import Cell, Experiment

CI = Experiment(
    name="ci",
    table="ci",
    title="CI regression experiment (synthetic, tiny profile).",
    datasets=("synthetic",),
    actions=("arm_wave", "push_up"),
    cells=(
        Cell("Static (reference image)", "static", reference=True),
        Cell("Oracle (ground truth)", "oracle", reference=True),
        Cell("FLASH", "flash"),
    ),
    anchor="flash",
    limit=1,
)
