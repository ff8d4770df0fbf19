"""Thin layers over the core: the `newsrec` CLI (and, later, the HTTP service).

Importing this package loads neither FastAPI nor torch.
"""
