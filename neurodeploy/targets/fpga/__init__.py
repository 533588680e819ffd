"""The FPGA target: a microcoded fixed-point vector datapath for GRU and SRC networks."""

LANE_CHOICES = (1, 2, 4, 8, 16, 32)  # MAC lanes of the datapath (here, so the CLI needs no numpy)
