"""Table 2: FLASH ablations #1–#6 on sprint run, soccer shoot, canoeing sprint and hugging human (§4.2)."""
from flash_bench.experiments import ABLATION_ACTIONS, FLASH_MARKS, FLASH_VARIANTS, Cell, Experiment

TABLE2 = Experiment(
    name="table2",
    table="2",
    title="Table 2. Quantitative ablation studies on different components of FLASH.",
    datasets=("haa500", "synthetic"),
    actions=ABLATION_ACTIONS,
    key_headers=("Variant", "Strong Augmentation", "Motion Features Alignment",
                 "Inter-frame Correspondence Alignment", "Detail Enhancement Decoder"),
    cells=(
        Cell("#1", "flash", FLASH_VARIANTS["#1"], display=FLASH_MARKS["#1"], paper_row="#1"),
        Cell("#2", "flash", FLASH_VARIANTS["#2"], display=FLASH_MARKS["#2"], paper_row="#2"),
        Cell("#3", "flash", FLASH_VARIANTS["#3"], display=FLASH_MARKS["#3"], paper_row="#3"),
        Cell("#4", "flash", FLASH_VARIANTS["#4"], display=FLASH_MARKS["#4"], paper_row="#4"),
        Cell("#5", "flash", FLASH_VARIANTS["#5"], display=FLASH_MARKS["#5"], paper_row="#5"),
        Cell("#6", "flash", FLASH_VARIANTS["#6"], display=FLASH_MARKS["#6"], paper_row="#6"),
    ),
    paper_csv="results/paper/table2.csv",
    anchor="flash",  # #6, the full model
)
