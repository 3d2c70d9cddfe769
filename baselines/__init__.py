"""Baselines of Table 1 and the two reference methods (static, oracle), all behind flash_bench.method.Method."""
