"""Table A1: variants #1, #2, #5 with 16, 8 and 4 training videos per action; #5 trained jointly on the four
ablation actions. Best/second are ranked within each block of the paper's table (16, 8, 4 shots; joint)."""
from flash_bench.experiments import ABLATION_ACTIONS, FLASH_VARIANTS, Cell, Experiment

TABLE_A1 = Experiment(
    name="tableA1",
    table="A1",
    title="Table A1. Analysis of training with fewer videos and joint training with multiple action classes.",
    datasets=("haa500", "synthetic"),
    actions=ABLATION_ACTIONS,
    key_headers=("Variant", "# Videos Per Class", "Joint Training"),
    cells=(
        Cell("#1", "flash", FLASH_VARIANTS["#1"], display=("16", "✗"), paper_row="#1@shots=16", group=0),
        Cell("#2", "flash", FLASH_VARIANTS["#2"], display=("16", "✗"), paper_row="#2@shots=16", group=0),
        Cell("#5", "flash", FLASH_VARIANTS["#5"], display=("16", "✗"), paper_row="#5@shots=16", group=0),
        Cell("#1", "flash", FLASH_VARIANTS["#1"], shots=8, display=("8", "✗"), paper_row="#1@shots=8", group=1),
        Cell("#2", "flash", FLASH_VARIANTS["#2"], shots=8, display=("8", "✗"), paper_row="#2@shots=8", group=1),
        Cell("#5", "flash", FLASH_VARIANTS["#5"], shots=8, display=("8", "✗"), paper_row="#5@shots=8", group=1),
        Cell("#1", "flash", FLASH_VARIANTS["#1"], shots=4, display=("4", "✗"), paper_row="#1@shots=4", group=2),
        Cell("#2", "flash", FLASH_VARIANTS["#2"], shots=4, display=("4", "✗"), paper_row="#2@shots=4", group=2),
        Cell("#5", "flash", FLASH_VARIANTS["#5"], shots=4, display=("4", "✗"), paper_row="#5@shots=4", group=2),
        Cell("#5", "flash", FLASH_VARIANTS["#5"], display=("16", "✗"), paper_row="#5@shots=16", group=3),
        Cell("#5", "flash", FLASH_VARIANTS["#5"], actions=ABLATION_ACTIONS, joint=True, display=("16", "✓"),
             paper_row="#5@shots=16+joint", group=3),
    ),
    paper_csv="results/paper/table_a1.csv",
    anchor="flash#5",
)
