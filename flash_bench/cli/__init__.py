"""The `flash-bench` command line (typer). Commands are thin: parse, build a config, call the library, print."""
