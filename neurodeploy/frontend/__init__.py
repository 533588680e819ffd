"""Frontends: torch modules <-> the Network IR (and, later, ANN-to-SNN conversion)."""
