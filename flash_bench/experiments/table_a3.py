"""Table A3: FLASH against the baselines on UCF Sports golf swing and lifting (paper A4.3)."""
from flash_bench.experiments import UCF_ACTIONS, Cell, Experiment

TABLE_A3 = Experiment(
    name="tableA3",
    table="A3",
    title="Table A3. Quantitative comparison of different methods on the UCF Sports Action Dataset.",
    datasets=("ucf-sports", "synthetic"),
    actions=UCF_ACTIONS,
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
    paper_csv="results/paper/table_a3.csv",
    anchor="flash",
)
