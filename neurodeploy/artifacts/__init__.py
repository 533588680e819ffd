"""What neurodeploy writes, and the rules that keep every other file safe: manifests
(`manifest.py`) and output placement by atomic swap (`outputs.py`)."""

from neurodeploy.artifacts.manifest import (
    MANIFEST_NAME,
    Manifest,
    OutputKind,
    copy_verified,
    read_manifest,
    sha256_file,
    verify_listed_file,
    verify_manifest,
    write_json,
    write_manifest,
)
from neurodeploy.artifacts.outputs import (
    NPZ_MARKER,
    check_output_directory,
    check_output_files,
    check_output_npz,
    is_result_npz,
    output_directory,
    output_files,
    write_result_npz,
)

__all__ = ["MANIFEST_NAME", "NPZ_MARKER", "Manifest", "OutputKind", "check_output_directory",
           "check_output_files", "check_output_npz", "copy_verified", "is_result_npz",
           "output_directory", "output_files", "read_manifest", "sha256_file",
           "verify_listed_file", "verify_manifest", "write_json", "write_manifest",
           "write_result_npz"]
