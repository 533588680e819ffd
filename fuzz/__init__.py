"""Fuzzing neurodeploy's doors: mutate valid files of every kind and run every command on them.

`fuzz/fuzz.py` is the script (see its --help); the modules are:

- `corpus`: builds small valid inputs of every file kind with the real tools;
- `mutators`: structural and byte-level mutations per file kind;
- `cases`: command templates over the corpus, and one deterministic mutated case per index;
- `execute`: runs a case in a forked, resource-limited process and classifies the outcome;
- `scan`: counts non-finite values in files of every kind (for accepted-invalid checks);
- `summary`: the tables, traceback signatures and reproducers.
"""
