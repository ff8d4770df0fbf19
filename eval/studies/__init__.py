"""Studies behind the defaults: each measures alternatives side by side."""
