"""The FPGA target: a microcoded fixed-point vector datapath for GRU and SRC networks."""
