"""Table A2: τ sweep for #3, p sweep for #4, Detail Enhancement Decoder branches for #6.
Best/second are ranked within each block (τ; p; decoder branches with #5 as the no-decoder row)."""
from flash_bench.experiments import ABLATION_ACTIONS, FLASH_VARIANTS, Cell, Experiment

V3, V4, V5, V6 = FLASH_VARIANTS["#3"], FLASH_VARIANTS["#4"], FLASH_VARIANTS["#5"], FLASH_VARIANTS["#6"]

TABLE_A2 = Experiment(
    name="tableA2",
    table="A2",
    title="Table A2. Ablation studies on different values of τ for motion feature alignment, different values "
          "of p for inter-frame correspondence relation alignment, and the impact of the warping branch and "
          "patch attention branch in the Detail Enhancement Decoder.",
    datasets=("haa500", "synthetic"),
    actions=ABLATION_ACTIONS,
    key_headers=("Variant", "τ", "p", "Warping Branch", "Patch Attention Branch"),
    cells=(
        Cell("#3", "flash", {**V3, "tau": 90}, display=("90", "-", "-", "-"), paper_row="#3@tau=90", group=0),
        Cell("#3", "flash", {**V3, "tau": 75}, display=("75", "-", "-", "-"), paper_row="#3@tau=75", group=0),
        Cell("#3", "flash", {**V3, "tau": 50}, display=("50", "-", "-", "-"), paper_row="#3@tau=50", group=0),
        Cell("#3", "flash", {**V3, "tau": 25}, display=("25", "-", "-", "-"), paper_row="#3@tau=25", group=0),
        Cell("#4", "flash", {**V4, "p": 1.0}, display=("-", "1.0", "-", "-"), paper_row="#4@p=1.0", group=1),
        Cell("#4", "flash", {**V4, "p": 0.5}, display=("-", "0.5", "-", "-"), paper_row="#4@p=0.5", group=1),
        Cell("#5", "flash", V5, display=("90", "0.5", "✗", "✗"), paper_row="#5", group=2),
        Cell("#6", "flash", {**V6, "decoder_branches": "warp"}, display=("90", "0.5", "✓", "✗"),
             paper_row="#6@warp", group=2),
        Cell("#6", "flash", {**V6, "decoder_branches": "attn"}, display=("90", "0.5", "✗", "✓"),
             paper_row="#6@patch", group=2),
        Cell("#6", "flash", {**V6, "decoder_branches": "both"}, display=("90", "0.5", "✓", "✓"),
             paper_row="#6@warp+patch", group=2),
    ),
    paper_csv="results/paper/table_a2.csv",
    anchor="flash",
)
