"""The `newsrec` command line, one module per command group."""
