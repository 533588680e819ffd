"""The Loihi-style target: Lava-exact CUBA arithmetic, netx HDF5 files, core mapping, energy."""
