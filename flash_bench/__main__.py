from flash_bench.cli.main import app

app(prog_name="flash-bench")
