"""Table A3: FLASH against the baselines on UCF Sports golf swing and lifting (paper A4.3)."""
from flash_bench.experiments import UCF_ACTIONS, Experiment
from flash_bench.experiments.table1 import TABLE1

TABLE_A3 = Experiment(
    name="tableA3",
    table="A3",
    title="Table A3. Quantitative comparison of different methods on the UCF Sports Action Dataset.",
    datasets=("ucf-sports", "synthetic"),
    actions=UCF_ACTIONS,
    cells=TABLE1.cells,  # the same seven methods and two reference rows as Table 1
    paper_csv="results/paper/table_a3.csv",
    anchor="flash",
)
