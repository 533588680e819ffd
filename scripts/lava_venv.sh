#!/usr/bin/env bash
# Build (or reuse) a separate Python 3.11 venv with Lava (lava-nc 0.10.0, lava-dl 0.6.0) for the
# loihi target's `lava` executor; print its python, for NEURODEPLOY_LAVA_PYTHON.
#
#   scripts/lava_venv.sh [DIR]        DIR defaults to $HOME/.cache/neurodeploy/lava-venv
#
# lava-nc and lava-dl declare Python < 3.11 and pin torch < 2.4 (docs/loihi.md). They work on 3.11
# when the dependencies their import of lava.lib.dl.netx needs come first (numpy < 2, the local
# CPU torch 2.13.0), the two wheels follow with --no-deps --ignore-requires-python, and two
# patches follow: dataclass defaults in lava/magma/compiler/var_model.py become
# field(default_factory=...) (Python 3.11 refuses unhashable defaults), and slayer's
# object_detection import becomes optional (it needs opencv and torchvision, which nothing here
# uses). Idempotent: a venv that already passed the check is only checked again.
set -euo pipefail

DIR="${1:-$HOME/.cache/neurodeploy/lava-venv}"
PYTHON311="${PYTHON311:-python3.11}"
RECIPE="lava-nc 0.10.0, lava-dl 0.6.0, recipe 1"
PY="$DIR/bin/python"
MARK="$DIR/neurodeploy-lava-ok"
HERE="$(cd "$(dirname "$0")" && pwd)"

check() {
    "$PY" "$HERE/lava_check.py"
}

if [[ -x "$PY" && -f "$MARK" && "$(cat "$MARK")" == "$RECIPE" ]] && check >/dev/null 2>&1; then
    echo "$PY"
    exit 0
fi

echo "building the Lava venv in $DIR" >&2
"$PYTHON311" -m venv "$DIR"
pip_install() {  # quiet, less the notes about absent local indexes; all of it on failure
    local log
    log="$(mktemp)"
    if ! "$PY" -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        return 1
    fi
    grep -v "is ignored: it is neither a file nor a directory" "$log" >&2 || true
    rm -f "$log"
}
# what `import lava.lib.dl.netx` and the bit-accurate CPU models need (torch 2.13.0 is the local
# CPU wheel: never let pip pick another torch)
pip_install "numpy==1.26.4" "torch==2.13.0" "scipy==1.17.1" "h5py==3.16.0" \
    "matplotlib==3.11.2" "asteval==0.9.33" "networkx==2.8.7"
pip_install --no-deps --ignore-requires-python "lava-nc==0.10.0" "lava-dl==0.6.0"

SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$PY" - "$SITE" <<'EOF'
"""The two source patches (each applied once; a second run finds them done)."""
import re
import sys
from pathlib import Path

site = Path(sys.argv[1])
var_model = site / "lava/magma/compiler/var_model.py"
text = var_model.read_text()
text = text.replace("from dataclasses import dataclass, InitVar\n",
                    "from dataclasses import dataclass, InitVar, field\n")
text, count = re.subn(r": ByteEncoder = ByteEncoder\(\)$",
                      ": ByteEncoder = field(default_factory=ByteEncoder)", text, flags=re.M)
if "field(default_factory=ByteEncoder)" not in text:
    sys.exit(f"{var_model}: the ByteEncoder defaults to patch were not found")
var_model.write_text(text)

slayer = site / "lava/lib/dl/slayer/__init__.py"
text = slayer.read_text()
plain = "from . import object_detection as obd\n"
optional = ("try:\n    from . import object_detection as obd\n"
            "except ImportError:  # needs opencv and torchvision\n    obd = None\n")
if optional not in text:
    if plain not in text:
        sys.exit(f"{slayer}: the object_detection import to patch was not found")
    slayer.write_text(text.replace(plain, optional))
EOF

check >&2
echo "$RECIPE" > "$MARK"
echo "$PY"
