"""Simulation engines: the float reference and the bit-accurate integer engine."""
