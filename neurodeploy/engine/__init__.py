"""Engines: the float reference (equal to the torch model) and the golden integer engine."""
