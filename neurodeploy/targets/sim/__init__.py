"""The `sim` target: a generic digital neuromorphic core array (see `target.py`)."""
