"""Conversions between torch modules and the Network IR."""
