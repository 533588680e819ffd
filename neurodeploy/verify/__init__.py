"""Hardware-in-the-loop verification: one comparison path for the float reference, the golden
model and every independent executor (`compare`), the `verify` job (`job`), and the pytest
plugin (`neurodeploy.testing`)."""
