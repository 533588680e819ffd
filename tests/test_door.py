"""Validation at the door: options, data files, the .pt loader, and the CLI's error contract."""

from __future__ import annotations

import collections
import io
import os
import pickle
import re
import time
import warnings
import zipfile
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA, model_path
from torch import nn

from neurodeploy.cli import friendly_errors, main
from neurodeploy.cli_types import BitWidths
from neurodeploy.errors import (
    InvalidDataError,
    InvalidFileError,
    NeurodeployWarning,
    ShapeError,
    UnsupportedModelError,
)
from neurodeploy.io.data import MAX_ELEMENTS, check_labels, encode, load_data, read_static
from neurodeploy.io.model_file import ALLOWED_CLASSES, load_torch_file

MODEL = model_path("lif")  # digits: 64 inputs per step, 10 classes


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def assert_one_line_error(result, *fragments: str, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def assert_usage_error(result, option: str) -> None:
    """click's own usage error: exit 2, one `Error:` line naming the option, no traceback."""
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and option in errors[0], result.stderr
    assert "Traceback" not in result.stderr


# Options ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, option", [
    (("convert", MODEL, "--data", DATA, "--weight-bits", "0"), "--weight-bits"),
    (("convert", MODEL, "--data", DATA, "--weight-bits", "17"), "--weight-bits"),
    (("convert", MODEL, "--data", DATA, "--timesteps", "0"), "--timesteps"),
    (("convert", MODEL, "--data", DATA, "--target", "fpga", "--lanes", "0"), "--lanes"),
    (("convert", MODEL, "--data", DATA, "--target", "fpga", "--lanes", "3"), "--lanes"),
    (("simulate", MODEL, "--input", DATA, "--timesteps", "0"), "--timesteps"),
    (("simulate", MODEL, "--input", DATA, "--dt", "0"), "--dt"),
    (("simulate", MODEL, "--input", DATA, "--dt", "-1e-3"), "--dt"),
    (("simulate", MODEL, "--input", DATA, "--dt", "nan"), "--dt"),
    (("simulate", MODEL, "--input", DATA, "--dt", "inf"), "--dt"),
    (("ann2snn", MODEL, "--data", DATA, "--percentile", "200"), "--percentile"),
    (("ann2snn", MODEL, "--data", DATA, "--percentile", "0"), "--percentile"),
    (("ann2snn", MODEL, "--data", DATA, "--percentile", "nan"), "--percentile"),
    (("ann2snn", MODEL, "--data", DATA, "--timesteps", "0"), "--timesteps"),
    (("report", MODEL, "--data", DATA, "--bits", ","), "--bits"),
    (("report", MODEL, "--data", DATA, "--bits", ""), "--bits"),
    (("report", MODEL, "--data", DATA, "--bits", "4,4"), "--bits"),
    (("report", MODEL, "--data", DATA, "--bits", "1,8"), "--bits"),
    (("report", MODEL, "--data", DATA, "--bits", "4,eight"), "--bits"),
])
def test_bad_option_is_a_usage_error_and_writes_nothing(args, option, tmp_path):
    out = tmp_path / "out"
    assert_usage_error(run(*args, "-o", out), option)
    assert not out.exists()


def test_bit_widths_parse_in_order():
    widths = BitWidths(2, 16)
    assert widths.convert(" 8,2 ,16", None, None) == (8, 2, 16)
    assert widths.convert((4,), None, None) == (4,)


# Error contract -------------------------------------------------------------------------------

@click.command("fail-for-test")
@click.argument("kind")
@friendly_errors
def fail_for_test(kind: str) -> None:
    """Fails the way `kind` says, so the wrapper's contract can be checked on real exceptions."""
    if kind == "internal":
        raise RuntimeError("an invariant broke\nsecond line")
    if kind == "memory":
        raise MemoryError
    if kind == "usage":
        raise click.BadParameter("not this", param_hint="KIND")
    raise InvalidDataError(f"{kind}: bad data\nmore")


@pytest.fixture
def failing_command():
    main.add_command(fail_for_test)
    yield
    main.commands.pop("fail-for-test")


@pytest.mark.usefixtures("failing_command")
def test_internal_error_is_one_line_exit_1():
    line = assert_one_line_error(run("fail-for-test", "internal"),
                                 "internal error: RuntimeError: an invariant broke", "--debug",
                                 "NEURODEPLOY_DEBUG=1", code=1)
    assert "second line" not in line


@pytest.mark.usefixtures("failing_command")
@pytest.mark.parametrize("how", ["option", "environment"])
def test_debug_shows_the_traceback(how):
    args, env = (("--debug", "fail-for-test", "internal"), None) if how == "option" else (
        ("fail-for-test", "internal"), {"NEURODEPLOY_DEBUG": "1"})
    result = run(*args, env=env)
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "raise RuntimeError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("internal error: RuntimeError")


@pytest.mark.usefixtures("failing_command")
def test_bad_input_error_memory_and_usage_keep_exit_2():
    assert_one_line_error(run("fail-for-test", "x.npz"), "error: x.npz: bad data")
    assert_one_line_error(run("fail-for-test", "memory"), "out of memory", "fewer samples")
    assert run("fail-for-test", "usage").exit_code == 2
    assert run("fail-for-test").exit_code == 2  # a missing argument: click's usage error


def test_unwritable_output_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run("simulate", MODEL, "--input", DATA, "-o", blocker / "y.npz")
    assert_one_line_error(result, str(blocker))
    assert blocker.read_text() == "not a directory"


# Data files -----------------------------------------------------------------------------------

def save(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return path


def labels(n: int) -> np.ndarray:
    return np.arange(n) % 10


@pytest.mark.parametrize("x, fragment", [
    (np.array([["a"] * 64] * 3), "dtype"),
    (np.ones((3, 64), np.complex64), "dtype"),
    (np.full((3, 64), np.nan), "non-finite"),
    (np.full((4, 3, 64), np.inf, np.float32), "non-finite"),
    (np.full((3, 64), 1e300), "non-finite"),  # finite in float64, inf in float32
    (np.zeros((0, 64)), "empty"),
    (np.zeros((0, 3, 64)), "empty"),
])
def test_x_must_be_finite_numbers(tmp_path, x, fragment):
    path = save(tmp_path, x=x)
    with pytest.raises(InvalidDataError, match=fragment) as caught:
        load_data(path, (64,), encoding="direct")
    assert str(path) in str(caught.value)


def test_bool_and_int_x_are_numbers(tmp_path):
    assert load_data(save(tmp_path, x=np.ones((2, 3, 64), bool)), (64,)).x.dtype == np.float32
    assert load_data(save(tmp_path, x=np.ones((3, 64), np.int16)), (64,), 5).x.shape == (5, 3, 64)


def test_batch_major_x_is_refused_by_its_labels(tmp_path):
    path = save(tmp_path, x=np.zeros((7, 20, 64), np.float32), y=labels(7))
    with pytest.raises(ShapeError, match=r"batch-major.*swapaxes"):
        load_data(path, (64,))
    assert load_data(save(tmp_path, x=np.zeros((20, 7, 64)), y=labels(7)), (64,)).x.shape[0] == 20


def test_t_equal_b_warns_how_it_was_read(tmp_path):
    path = save(tmp_path, x=np.zeros((6, 6, 64), np.float32), y=labels(6))
    with pytest.warns(NeurodeployWarning, match=r"T == B == 6.*time-major"):
        assert load_data(path, (64,)).x.shape == (6, 6, 64)


def test_timesteps_given_for_time_major_x_is_reported(tmp_path):
    path = save(tmp_path, x=np.zeros((20, 7, 64), np.float32))
    with pytest.warns(NeurodeployWarning, match="ignored"):
        assert load_data(path, (64,), timesteps=9).x.shape == (20, 7, 64)


@pytest.mark.parametrize("encoding", ["rate", "latency"])
def test_values_outside_0_1_are_refused_for_spike_encodings(tmp_path, encoding):
    path = save(tmp_path, x=np.linspace(-0.5, 2.0, 3 * 64).reshape(3, 64))
    with pytest.raises(InvalidDataError, match=r"\[-0.5, 2\].*\[0, 1\].*--encoding direct"):
        load_data(path, (64,), 4, encoding)
    with pytest.raises(InvalidDataError, match=r"\[0, 1\]"):
        encode(np.full((2, 3), 1.5), 4, encoding)
    with pytest.raises(InvalidDataError, match=r"\[0, 1\]"):
        read_static(path, encoding)


def test_convert_takes_the_encoding_the_error_names(tmp_path):
    x = np.random.default_rng(0).uniform(-1.0, 2.0, (8, 64))
    path = save(tmp_path, x=x, y=labels(8))
    out = tmp_path / "out"
    assert_one_line_error(run("convert", MODEL, "--data", path, "-o", out), "--encoding direct")
    assert not out.exists()
    result = run("convert", MODEL, "--data", path, "--encoding", "direct", "--timesteps", 4,
                 "-o", out)
    assert result.exit_code == 0, result.output
    assert (out / "report.json").exists()


def test_direct_encoding_keeps_values_unclipped(tmp_path):
    x = np.linspace(-0.5, 2.0, 3 * 64).reshape(3, 64)
    timed = load_data(save(tmp_path, x=x), (64,), 4, "direct").x
    assert np.array_equal(timed[3], x.astype(np.float32))


@pytest.mark.parametrize("y, error, fragment", [
    (np.eye(10)[labels(5)], InvalidDataError, "argmax"),
    (labels(5)[:, None], InvalidDataError, "reshape"),
    (np.array([0, 1, -1, 2, 3]), InvalidDataError, "negative"),
    (np.array([0, 1, np.nan, 2, 3]), InvalidDataError, "NaN"),
    (np.array([0, 1, 2.5, 2, 3]), InvalidDataError, "non-integer"),
    (np.array([True, False] * 2 + [True]), InvalidDataError, "dtype bool"),
    (np.array([0, 1, 2, 3, 10]), InvalidDataError, "10 outputs"),
    (labels(4), ShapeError, "4 labels for 5 samples"),
])
def test_labels_must_be_class_ids(tmp_path, y, error, fragment):
    path = save(tmp_path, x=np.zeros((20, 5, 64), np.float32), y=y)
    with pytest.raises(error, match=fragment) as caught:
        load_data(path, (64,), classes=10)
    assert f"{path}: y" in str(caught.value)


def test_integral_float_labels_become_int64(tmp_path):
    path = save(tmp_path, x=np.zeros((20, 5, 64), np.float32), y=labels(5).astype(np.float32))
    y = load_data(path, (64,), classes=10).y
    assert y.dtype == np.int64 and np.array_equal(y, labels(5))
    assert check_labels(np.array([12]), 1).tolist() == [12]  # no class count: any id >= 0


def test_cli_refuses_labels_the_network_cannot_predict(tmp_path):
    with np.load(DATA) as data:
        x, y = data["x"], data["y"].copy()
    y[0] = 10
    path = save(tmp_path, x=x, y=y)
    assert_one_line_error(run("simulate", MODEL, "--input", path), "label 10", "10 outputs")


def test_encoding_is_bounded_before_allocation():
    started = time.perf_counter()
    with pytest.raises(InvalidDataError, match="fewer samples or time steps"):
        encode(np.zeros((1000, 1000), np.float32), MAX_ELEMENTS // 1_000_000 + 1, "direct")
    assert time.perf_counter() - started < 1.0


def write_npy_claiming(path: Path, shape: tuple[int, ...], payload: bytes) -> None:
    """An .npz whose x.npy header claims `shape` (float32) but whose body is `payload`."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + payload)  # the header includes the magic


@pytest.mark.parametrize("shape, fragment", [
    ((1 << 20, 1 << 12), "more than the"), ((20, 5, 64), "truncated"),
])
def test_npz_headers_are_checked_before_reading(tmp_path, shape, fragment):
    path = tmp_path / "claims.npz"
    write_npy_claiming(path, shape, bytes(64))
    with pytest.raises(InvalidFileError, match=fragment):
        load_data(path, (64,))


def npy_bytes(array: np.ndarray) -> bytes:
    stream = io.BytesIO()
    np.save(stream, array)
    return stream.getvalue()


@pytest.mark.parametrize("make, fragment", [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a directory"),
    (lambda p: p.write_text("x,y\n1,2\n"), "not a .npz archive"),
    (lambda p: p.write_bytes(npy_bytes(np.zeros((3, 64)))), "not a .npz archive"),
    (lambda p: np.savez(p, inputs=np.zeros((3, 64))), "no array 'x'"),
])
def test_unreadable_data_files_are_one_line(tmp_path, make, fragment):
    path = tmp_path / "data.npz"
    make(path)
    assert_one_line_error(run("simulate", MODEL, "--input", path), str(path), fragment)


def damage_member(path: Path, compression: int, offset: int) -> None:
    """A valid .npz (x: 2 x 64 float32, members compressed as given) whose member x.npy has 16
    zero bytes from `offset` into its stored data: a deflate stream then starts with a stored
    block whose lengths disagree, a stored member fails its CRC."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("x.npy", npy_bytes(np.linspace(0, 1, 128, dtype=np.float32).reshape(2, 64)))
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("x.npy")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + offset
    raw[start:start + 16] = bytes(16)
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("compression, offset, fragment", [
    (zipfile.ZIP_DEFLATED, 0, "invalid stored block lengths"),
    (zipfile.ZIP_STORED, 200, "Bad CRC-32"),
])
def test_damaged_npz_members_are_one_line(tmp_path, compression, offset, fragment):
    """Fuzz: zlib.error escaped the npz reader as an internal error (exit 1)."""
    path = tmp_path / "data.npz"
    damage_member(path, compression, offset)
    line = assert_one_line_error(run("simulate", MODEL, "--input", path), str(path),
                                 "array 'x' is damaged", fragment, "write the file again")
    assert "internal error" not in line


def test_read_static_checks_its_data(tmp_path):
    with pytest.raises(ShapeError, match=r"\(B, \*features\)"):
        read_static(save(tmp_path, x=np.zeros(64)))
    with pytest.raises(InvalidDataError, match="non-finite"):
        read_static(save(tmp_path, x=np.full((2, 64), np.nan)))
    x, y = read_static(save(tmp_path, x=np.zeros((2, 64)), y=np.array([1.0, 3.0])))
    assert x.dtype == np.float32 and y.tolist() == [1, 3]


# The .pt door ---------------------------------------------------------------------------------

class BuildsLinear:
    """Unpickles as nn.Linear(n, n): an allowlisted class called with the file's arguments."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __reduce__(self):
        return (nn.Linear, (self.n, self.n))


class Evaluates:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w')",))


class RunsShell:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class LoadsAnotherFile:
    def __reduce__(self):
        return (torch.load, ("x.pt",))


def write_torch_zip(path: Path, data_pkl: bytes, records: dict[str, bytes] | None = None) -> None:
    """A torch.save-style archive: archive/data.pkl plus storage records archive/data/<key>."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        for key, payload in (records or {}).items():
            archive.writestr(f"archive/data/{key}", payload)
        archive.writestr("archive/version", "3\n")


class Storage:
    """Pickled as the persistent id torch.save gives a float32 storage."""

    def __init__(self, key: str, numel: int) -> None:
        self.key, self.numel = key, numel


class TensorOn:
    def __init__(self, storage: Storage, size: tuple[int, ...]) -> None:
        stride = tuple(int(np.prod(size[i + 1:])) for i in range(len(size)))
        self.args = (storage, 0, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class StoragePickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def pickled(obj: object, protocol: int = 2) -> bytes:
    stream = io.BytesIO()
    StoragePickler(stream, protocol=protocol).dump(obj)
    return stream.getvalue()


def test_linear_bomb_is_refused_fast_without_allocating(tmp_path):
    bomb = tmp_path / "bomb.pt"
    torch.save([BuildsLinear(16000) for _ in range(4)], bomb)  # 4 x 1 GB of weights
    assert bomb.stat().st_size < 2000
    started = time.perf_counter()
    with pytest.raises(InvalidFileError, match="claims more parameters than it holds") as caught:
        load_torch_file(bomb)
    assert time.perf_counter() - started < 0.5
    assert "Linear(16000, 16000)" in str(caught.value)
    assert_one_line_error(run("convert", bomb, "--data", DATA, "-o", tmp_path / "o"), str(bomb),
                          "claims more parameters than it holds")


def test_torch_weights_only_alone_would_build_the_bomb(tmp_path):
    """The gap the archive inspection closes: torch's allowlist calls Linear with the file's args."""
    small = tmp_path / "small.pt"
    torch.save([BuildsLinear(3)], small)
    with torch.serialization.safe_globals(list(ALLOWED_CLASSES)):
        built = torch.load(small, weights_only=True)
    assert isinstance(built[0], nn.Linear) and built[0].weight.shape == (3, 3)
    with pytest.raises(InvalidFileError, match="claims more parameters"):
        load_torch_file(small)


def test_newobj_with_arguments_on_a_module_is_refused(tmp_path):
    # PROTO 2; GLOBAL Linear; BININT2 16000 twice; TUPLE2; NEWOBJ; STOP
    data = b"\x80\x02ctorch.nn.modules.linear\nLinear\nM\x80>M\x80>\x86\x81."
    path = tmp_path / "newobj.pt"
    write_torch_zip(path, data)
    with pytest.raises(InvalidFileError, match=r"claims more parameters.*Linear\(16000, 16000\)"):
        load_torch_file(path)


@pytest.mark.parametrize("obj, records, fragment", [
    ([TensorOn(Storage("0", 10**10), (2, 2))], {"0": bytes(16)}, "its record holds 16 bytes"),
    ([TensorOn(Storage("1", 4), (2, 2))], {"0": bytes(16)}, "its record is missing"),
    ([TensorOn(Storage("0", 4), (16000, 16000))], {"0": bytes(16)}, "needs 256000000 values"),
])
def test_storage_claims_must_be_held_by_the_archive(tmp_path, obj, records, fragment):
    path = tmp_path / "claims.pt"
    write_torch_zip(path, pickled(obj), records)
    with pytest.raises(InvalidFileError, match="claims more parameters than it holds") as caught:
        load_torch_file(path)
    assert fragment in str(caught.value)


def test_a_stored_tensor_that_fits_is_read(tmp_path):
    path = tmp_path / "tensor.pt"
    write_torch_zip(path, pickled([TensorOn(Storage("0", 4), (2, 2))]), {"0": bytes(16)})
    with pytest.raises(UnsupportedModelError, match="holds a list, not a model"):
        load_torch_file(path)


def test_lstm_is_not_supported_rather_than_alarming(tmp_path):
    path = tmp_path / "lstm.pt"
    torch.save(nn.LSTM(4, 8), path)
    line = assert_one_line_error(run("convert", path, "--data", DATA, "-o", tmp_path / "o"),
                                 "not supported: torch.nn.modules.rnn.LSTM", "supported layers:",
                                 "Linear")
    assert "may run code" not in line


def test_sinabs_layer_is_not_supported(tmp_path):
    import sinabs.layers

    path = tmp_path / "sinabs.pt"
    torch.save(nn.Sequential(nn.Linear(4, 4), sinabs.layers.IAF()), path)
    with pytest.raises(UnsupportedModelError, match="not supported: .*sinabs.layers.iaf.IAF.*NIR"):
        load_torch_file(path)


@pytest.mark.parametrize("payload, name", [(Evaluates, "builtins.eval"), (RunsShell, ".system")])
def test_code_payloads_keep_the_security_warning_and_never_run(tmp_path, payload, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save([nn.Linear(2, 2), payload(str(marker))], path)
    with pytest.raises(UnsupportedModelError, match="the file may run code") as caught:
        load_torch_file(path)
    assert name in str(caught.value)
    assert not marker.exists()


def test_a_torch_function_is_a_payload_not_a_layer(tmp_path):
    path = tmp_path / "fn.pt"
    torch.save([LoadsAnotherFile()], path)
    with pytest.raises(UnsupportedModelError, match="torch.serialization.load.*may run code"):
        load_torch_file(path)


@pytest.mark.parametrize("write, error, fragment", [
    (lambda p: torch.save(nn.Linear(2, 2), p, _use_new_zipfile_serialization=False),
     InvalidFileError, "legacy"),
    (lambda p: torch.jit.save(torch.jit.script(nn.Linear(2, 2)), p), UnsupportedModelError,
     "TorchScript"),
    (lambda p: write_torch_zip(p, pickled([1, 2])[:-3]), InvalidFileError, "pickle"),
    (lambda p: write_torch_zip(p, pickle.dumps([1, 2], protocol=4)), InvalidFileError, "FRAME"),
    (lambda p: p.write_bytes(b"PK\x03\x04" + bytes(100)), InvalidFileError, "not a readable"),
    (lambda p: p.write_text("hello"), InvalidFileError, "not a torch archive"),
])
def test_malformed_pt_files_are_one_line(tmp_path, write, error, fragment):
    path = tmp_path / "model.pt"
    write(path)
    with pytest.raises(error, match=fragment):
        load_torch_file(path)
    assert_one_line_error(run("simulate", path, "--input", DATA), str(path))


@pytest.mark.parametrize("member", ["in_features", "bias"])
def test_a_layer_missing_a_member_is_refused_before_use(tmp_path, member):
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    delattr(model[0], member)  # what a damaged or hand-made pickle gives
    path = tmp_path / "damaged.pt"
    torch.save(model, path)
    with pytest.raises(InvalidFileError, match=f"layer '0' \\(Linear\\) lacks {member}"):
        load_torch_file(path)


def cnn_ann() -> nn.Sequential:
    """The fuzz corpus's CNN ANN: input (1, 6, 6), Conv2d(1, 2, 3) folded with a BatchNorm2d."""
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Linear(8, 4)).eval()


def shadow_weight(model: nn.Sequential) -> None:
    """What renaming the pickled string '_load_state_dict_pre_hooks' to 'weight' gives."""
    vars(model[0])["weight"] = collections.OrderedDict()


def narrow_conv(model: nn.Sequential) -> None:
    """What the pickled size 2 -> 1 of the Conv2d's weight gives: 1 output channel of 2."""
    model[0].weight = nn.Parameter(torch.zeros(1, 1, 3, 3))


def integer_weight(model: nn.Sequential) -> None:
    model[5].weight = nn.Parameter(torch.zeros(4, 8, dtype=torch.int64), requires_grad=False)


def list_bias(model: nn.Sequential) -> None:
    vars(model[5])["_parameters"]["bias"] = [0.0] * 4


def unnamed_layer(model: nn.Sequential) -> None:
    """What the pickled string '0' -> '' gives: a layer torch's add_module would never name ''."""
    modules = vars(model)["_modules"]
    vars(model)["_modules"] = collections.OrderedDict(
        ("" if key == "0" else key, value) for key, value in modules.items())


@pytest.mark.parametrize("damage, fragment", [
    (unnamed_layer, "the model names a layer '', a name torch refuses"),
    (shadow_weight, "layer '0' (Conv2d) holds 'weight' twice, as an attribute and in _parameters"),
    (narrow_conv, "layer '0' (Conv2d): weight has shape (1, 1, 3, 3), but out_channels 2, "
                  "in_channels 1, groups 1, kernel_size (3, 3) need (2, 1, 3, 3)"),
    (integer_weight, "layer '5' (Linear): weight holds torch.int64, not floating-point"),
    (list_bias, "layer '5' (Linear) holds a list as parameter 'bias', not a tensor"),
])
@pytest.mark.parametrize("command", ["ann2snn", "convert"])
def test_layer_tensors_are_checked_against_their_class(tmp_path, damage, fragment, command):
    """Fuzz: a .pt ANN whose Conv2d had a second 'weight' or a weight narrower than its
    out_channels reached the BatchNorm folding (internal AttributeError / RuntimeError, exit 1);
    a layer named '' reached torch's ModuleDict (internal KeyError, exit 1)."""
    model = cnn_ann()
    damage(model)
    path = tmp_path / "cnn.pt"
    torch.save(model, path)
    with pytest.raises(InvalidFileError, match=re.escape(fragment)):
        load_torch_file(path)
    data = tmp_path / "static.npz"
    np.savez(data, x=np.random.default_rng(0).random((4, 1, 6, 6)).astype(np.float32))
    args = ("-o", tmp_path / "snn.nir") if command == "ann2snn" else ("-o", tmp_path / "out")
    assert_one_line_error(run(command, path, "--data", data, "--timesteps", "8", *args), str(path),
                          fragment, "save the model again")
    assert not (tmp_path / "snn.nir").exists() and not (tmp_path / "out").exists()


def test_a_layer_without_its_optional_tensors_passes(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save(nn.Sequential(nn.Linear(3, 4, bias=False), nn.BatchNorm1d(4, affine=False),
                             nn.Conv2d(1, 2, 3, bias=False)), path)
    assert isinstance(load_torch_file(path), nn.Sequential)


def src_model(bias_max: float) -> nn.Sequential:
    from neurodeploy import nn as ndnn

    return nn.Sequential(nn.Linear(64, 8), ndnn.SRC(8, bias_max=bias_max), nn.Linear(8, 10),
                         ndnn.LI())


@pytest.mark.parametrize("target", ["fpga", "sim"])
def test_a_parameter_beyond_float32_is_refused_naming_file_and_layer(tmp_path, target):
    """Fuzz: an SRC bias_max of 1e308 (finite in float64) passed the Network's checks and
    overflowed float32 in the reference engine: internal RuntimeError, exit 1."""
    path = tmp_path / "src.pt"
    torch.save(src_model(1e308), path)
    out = tmp_path / "out"
    assert_one_line_error(run("convert", path, "--target", target, "--data", DATA, "-o", out),
                          f"{path}: layer '1': 'bias_max' must be a finite number within "
                          "float32's range", "1e+308")
    assert not out.exists()
    torch.save(src_model(-3e38), path)  # the largest float32 values still pass
    assert run("simulate", path, "--input", DATA, "-o", tmp_path / "y.npz").exit_code == 0


def test_arrays_beyond_float32_are_refused_when_a_network_is_built():
    from neurodeploy import ir

    weight = np.full((3, 4), 1e300)  # float64, as a NIR file may hold it
    with pytest.raises(UnsupportedModelError, match=r"layer '0': 'weight' holds 1e\+300, beyond "
                                                    "float32's range"):
        ir.Network.chain([ir.Layer("0", ir.Affine(weight, None))], (4,))


def test_shipped_models_pass_the_inspection():
    """digits_lif.pt predates LIF.reset_delay: a class default covers a member older files lack."""

    for kind in ("snu", "ssnu", "src", "iaf", "lif"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert isinstance(load_torch_file(model_path(kind)), nn.Module)

