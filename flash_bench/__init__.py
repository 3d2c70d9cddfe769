"""flash-bench: the FLASH benchmark suite — datasets, methods, metrics, tables."""
__version__ = "0.1.0"
