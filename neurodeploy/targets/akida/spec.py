"""Akida limits, precisions and board figures (../shared/specs/akida.md).

Only public figures: BrainChip's AKD1000 user guide and constraints pages (limits, board power)
and Howard et al. 2017 for the size of the reference network the board figures were measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

BRAINCHIP = "BrainChip AKD1000 user guide and hardware constraints pages (public)"
BOARD = ("BrainChip AKD1000 reference board: ~913 mW floor; AkidaNet-0.5 at 224 px: 43.5 frames/s, "
         "1,021 mW average, 23.5 mJ per frame")
MOBILENET = ("Howard et al. 2017, MobileNets, Table 6: 0.50 MobileNet-224, 149 M multiply-adds "
             "(taken as AkidaNet-0.5's size)")

#: weight values per bit width, Akida 2.0 (1.0's 4-bit weights are [-7, 7]: `AkidaSpec.weight_range`)
WEIGHT_RANGES: dict[int, tuple[int, int]] = {1: (0, 1), 2: (-1, 1), 4: (-8, 7), 8: (-128, 127)}
#: activation widths: unsigned below 8 bits, signed int8 at 8 bits
ACTIVATION_BITS = (1, 2, 4, 8)


def activation_range(bits: int) -> tuple[int, int]:
    """The integer range of a `bits`-wide activation: [0, 2^b - 1] below 8 bits, int8 at 8."""
    if bits not in ACTIVATION_BITS:
        raise ValueError(f"activation bits {bits} must be one of {ACTIVATION_BITS}")
    return (-128, 127) if bits == 8 else (0, (1 << bits) - 1)


class AkidaVersion(Enum):
    """The Akida generation whose layer limits and precisions apply."""

    V1 = "1.0"  # AKD1000 silicon
    V2 = "2.0"  # Akida 2.0 IP


@dataclass(frozen=True)
class AkidaSpec:
    """A chip of `nps` neural processors (NPs) in nodes of 4, each NP with its own input and
    weight memory, and the layer limits of its Akida version. The layer arithmetic is the Akida
    2.0-style one of `neurodeploy.targets.akida.nodes` for both versions (1.0's fully connected
    threshold/step form is not modelled)."""

    name: str
    version: AkidaVersion
    input_memory_bytes: int  # per NP
    weight_memory_bytes: int  # per NP
    conv_kernels: tuple[int, ...]  # square kernel sizes of a convolution after the first
    input_conv_kernels: tuple[int, ...]  # ... and of the first (input) convolution
    stride2_kernels: tuple[int, ...] | None  # kernels a stride-2 convolution may have (None: all)
    max_dense_inputs: int  # inputs of a fully connected layer
    max_global_pool_area: int | None  # global average pooling only when H*W <= this
    weight_bits: tuple[int, ...]  # of the layers after the first
    input_weight_bits: tuple[int, ...]  # of the first layer
    activation_bits: tuple[int, ...]
    four_bit_weights: tuple[int, int]
    nps: int = 80
    nps_per_node: int = 4
    buffer_bits: int = 28  # the accumulator: only the final sum saturates
    bias_mantissa_bits: int = 8  # a bias is m << s with m signed 8-bit
    scale_bits: int = 8  # the output scale M, unsigned
    board_floor_w: float = 0.913
    reference_frame_s: float = 1 / 43.5
    reference_frame_j: float = 23.5e-3
    reference_macs: float = 149e6

    @property
    def nodes(self) -> int:
        return self.nps // self.nps_per_node

    @property
    def chip(self) -> str:
        return f"{self.nps}-NP Akida {self.version.value}"

    def weight_range(self, bits: int) -> tuple[int, int]:
        """The integer range of a `bits`-wide weight in this version."""
        return self.four_bit_weights if bits == 4 else WEIGHT_RANGES[bits]

    @property
    def dynamic_j_per_mac(self) -> float:
        """Board energy above the floor per dense MAC of the reference network (an estimate)."""
        return (self.reference_frame_j - self.board_floor_w * self.reference_frame_s) \
            / self.reference_macs

    @property
    def macs_per_s(self) -> float:
        """Dense MACs per second the reference network ran at (an estimate)."""
        return self.reference_macs / self.reference_frame_s

    @property
    def sources(self) -> dict[str, str]:
        return {"limits": BRAINCHIP, "board": BOARD, "reference network": MOBILENET}


#: Akida 2.0 IP on an AKD1000-sized fabric (80 NPs): 64 KB input + 50 KB weight memory per NP
AKIDA_2 = AkidaSpec(
    name="akida", version=AkidaVersion.V2, input_memory_bytes=64 * 1024,
    weight_memory_bytes=50 * 1024, conv_kernels=(1, 3, 5, 7), input_conv_kernels=(3, 4, 5, 7),
    stride2_kernels=None, max_dense_inputs=2048, max_global_pool_area=143,
    weight_bits=(2, 4, 8), input_weight_bits=(2, 4, 8), activation_bits=(1, 2, 4, 8),
    four_bit_weights=(-8, 7))

#: AKD1000 silicon (Akida 1.0): 43 KB input + 45 KB weight memory per NP, 8-bit weights only
#: in the input layer, activations of at most 4 bits, stride 2 only with 3x3 kernels
AKD1000 = AkidaSpec(
    name="akd1000", version=AkidaVersion.V1, input_memory_bytes=43 * 1024,
    weight_memory_bytes=45 * 1024, conv_kernels=(1, 3, 5, 7), input_conv_kernels=(1, 3, 5, 7),
    stride2_kernels=(3,), max_dense_inputs=57_334, max_global_pool_area=None,
    weight_bits=(2, 4), input_weight_bits=(2, 4, 8), activation_bits=(1, 2, 4),
    four_bit_weights=(-7, 7))
