"""ACGS-2 shared kernel: settings, logging and the operator CLI (the composition roots live here)."""
