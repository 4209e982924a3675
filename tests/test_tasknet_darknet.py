"""Darknet cfg parser and weights loader (synthetic networks; the real files where shared/ exists)."""
import struct

import numpy as np
import pytest
import torch

from icm.common.errors import ResourceError
from icm.common.paths import detector_files
from icm.common.tasknet.darknet import DarknetNet, load_darknet, parse_cfg_text

TINY_CFG = """
[net]
width=64
height=64
channels=3

[convolutional]     # 0: stride 2 -> 32x32
filters=8
size=3
stride=2
pad=1
batch_normalize=1
activation=leaky

[convolutional]     # 1: depthwise
filters=8
groups=8
size=3
stride=1
pad=1
batch_normalize=1
activation=relu

[shortcut]          # 2
from=-2
activation=linear

[maxpool]           # 3: stride 2 -> 16x16
size=2
stride=2

[maxpool]           # 4: SPP-style, same size
size=5
stride=1

[route]             # 5: 16 channels
layers=-1,-2

[route]             # 6: second half of the channels of layer 5
layers=-1
groups=2
group_id=1

[upsample]          # 7: 32x32
stride=2

[route]             # 8: 8 + 8 channels
layers=-1,2

[dropout]           # 9
probability=.2

[convolutional]     # 10: head, no batch norm
filters=18
size=1
stride=1
pad=1
activation=linear

[yolo]              # 11
mask=0,1
anchors=10,14, 23,27, 37,58
classes=4
num=3
scale_x_y=1.05
"""


def _write_weights(path, net: DarknetNet, extra_floats: int = 0, seed: int = 0) -> np.ndarray:
    params = np.random.default_rng(seed).normal(size=net.num_weights() + extra_floats).astype("<f4")
    params[:] = np.abs(params) + 0.1  # positive: valid running variances everywhere
    path.write_bytes(struct.pack("<3iq", 0, 2, 5, 32013312) + params.tobytes())
    return params


def test_tiny_network_shapes_and_exact_weights(tmp_path):
    net = DarknetNet(parse_cfg_text(TINY_CFG, "tiny.cfg"))
    shapes = net.output_shapes(64, 64)
    assert shapes[0] == (8, 32, 32) and shapes[3] == (8, 16, 16) and shapes[4] == (8, 16, 16)
    assert shapes[5] == (16, 16, 16) and shapes[6] == (8, 16, 16) and shapes[8] == (16, 32, 32)
    assert shapes[11] == (18, 32, 32)
    # conv0: 4*8 + 8*3*3*3; conv1: 4*8 + 8*1*3*3; conv10: 18 + 18*16
    assert net.num_weights() == (32 + 216) + (32 + 72) + (18 + 288)
    weights = tmp_path / "tiny.weights"
    params = _write_weights(weights, net)
    header = net.load_weights(weights)
    assert (header.major, header.minor, header.revision, header.seen) == (0, 2, 5, 32013312)
    assert torch.equal(net.layers[0].bn.bias, torch.from_numpy(params[:8]))
    assert torch.equal(net.layers[10].conv.weight.flatten(), torch.from_numpy(params[-288:]))
    out = net.eval()(torch.rand(1, 3, 64, 64))
    assert [tuple(t.shape) for t in out] == [(1, 18, 32, 32)]
    assert net.crossing_outputs(4) == [2, 3, 4]


@pytest.mark.parametrize("extra", [-1, 1])
def test_weights_size_mismatch_is_resource_error(tmp_path, extra):
    net = DarknetNet(parse_cfg_text(TINY_CFG, "tiny.cfg"))
    weights = tmp_path / "tiny.weights"
    _write_weights(weights, net, extra_floats=extra)
    with pytest.raises(ResourceError, match="weights do not match cfg"):
        net.load_weights(weights)


def test_maxpool_same_padding_matches_brute_force():
    net = DarknetNet(parse_cfg_text(TINY_CFG, "tiny.cfg"))
    pool = net.layers[4]  # size 5, stride 1
    x = torch.randn(1, 2, 7, 6)
    out = pool([x])
    assert out.shape == x.shape
    for i in range(7):
        for j in range(6):
            window = x[0, :, max(0, i - 2):i + 3, max(0, j - 2):j + 3]
            assert torch.equal(out[0, :, i, j], window.amax(dim=(1, 2)))


CFG_HEAD = "[net]\nwidth=32\nheight=32\nchannels=3\n"  # lines 1-4
CFG_TAIL = "\n[yolo]\nmask=0\nanchors=1,1\nclasses=3\n"  # needs 1 x (3 + 5) = 8 input channels


def test_minimal_cfg_parses():
    net = DarknetNet(parse_cfg_text(CFG_HEAD + "[convolutional]\nfilters=8\nsize=3\npad=1" + CFG_TAIL))
    assert net.output_shapes(32, 32)[-1] == (8, 32, 32)


@pytest.mark.parametrize("broken, line, message", [  # line: 1-based inside ``broken``
    ("[convolutional]\nfilters=eight\nsize=3", 2, "integer"),
    ("[convolutional]\nfilters=8\nsize=3\nactivation=sparkly", 4, "activation"),
    ("[convolutional]\nfilters=8\nthis line is garbage", 3, "key=value"),
    ("[teleport]\nfilters=8", 1, "unsupported section"),
    ("[route]\nlayers=-5", 2, "outside the earlier layers"),
    ("[convolutional\nfilters=8", 1, "section header"),
    ("[convolutional]\nfilters=6\ngroups=4", 3, "groups"),
    ("[convolutional]\nfilters=16\nsize=1", 1, "channels"),  # the error is at the [yolo] reading it
])
def test_corrupted_cfg_is_resource_error_with_line(broken, line, message):
    text = CFG_HEAD + broken + CFG_TAIL
    with pytest.raises(ResourceError, match=message) as info:
        DarknetNet(parse_cfg_text(text, "bad.cfg"))
    expected_line = 4 + line if message != "channels" else 4 + broken.count("\n") + 2
    assert f"bad.cfg:{expected_line}" in str(info.value)


def test_cfg_without_net_section():
    with pytest.raises(ResourceError, match=r"\[net\]"):
        parse_cfg_text("[convolutional]\nfilters=8\n", "bad.cfg")


def test_real_weights_consumed_exactly_and_truncation_detected(shared, tmp_path):
    cfg, weights = detector_files("yolo-fastest-1.1-xl")
    net = load_darknet(cfg, weights)
    assert 20 + 4 * net.num_weights() == weights.stat().st_size
    truncated = tmp_path / "truncated.weights"
    truncated.write_bytes(weights.read_bytes()[:-4])
    with pytest.raises(ResourceError, match="weights do not match cfg"):
        load_darknet(cfg, truncated)
    # The small model's weights do not fit the XL cfg either.
    with pytest.raises(ResourceError, match="weights do not match cfg"):
        load_darknet(cfg, detector_files("yolo-fastest-1.1")[1])


def test_corrupted_real_cfg(shared, tmp_path):
    cfg, weights = detector_files("yolo-fastest-1.1-xl")
    lines = cfg.read_text().splitlines()
    index = lines.index("layers=-1,80")
    lines[index] = "layers=-1,800"
    bad = tmp_path / "bad.cfg"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(ResourceError, match=f"bad.cfg:{index + 1}"):
        load_darknet(bad, weights)
