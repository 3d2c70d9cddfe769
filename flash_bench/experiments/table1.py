"""Table 1: FLASH against six baselines on the 12 HAA500 actions (static and oracle bracket it, unranked)."""
from flash_bench.experiments import HAA500_ACTIONS, Cell, Experiment

TABLE1 = Experiment(
    name="table1",
    table="1",
    title="Table 1. Quantitative comparison of different methods.",
    datasets=("haa500", "synthetic"),
    actions=HAA500_ACTIONS,
    cells=(
        Cell("TI2V-Zero", "ti2v-zero", paper_row="TI2V-Zero"),
        Cell("SparseCtrl", "sparsectrl", paper_row="SparseCtrl"),
        Cell("PIA", "pia", paper_row="PIA"),
        Cell("DynamiCrafter", "dynamicrafter", paper_row="DynamiCrafter"),
        Cell("DreamVideo", "dreamvideo", paper_row="DreamVideo"),
        Cell("LAMP", "lamp", paper_row="LAMP"),
        Cell("FLASH", "flash", paper_row="FLASH"),
        Cell("Static (reference image)", "static", reference=True),
        Cell("Oracle (ground truth)", "oracle", reference=True),
    ),
    paper_csv="results/paper/table1.csv",
    anchor="flash",
)
