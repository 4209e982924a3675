"""The two VVC anchors end to end on coco-val-dev photos, through the encoder and decoder pipelines."""
import numpy as np
import pytest
import torch

from icm.common.bitstream import parse
from icm.common.config import DecoderConfig, EncoderConfig, InnerCodecConfig
from icm.common.image_io import read_image
from icm.common.tasknet.registry import load_task_network
from icm.common.threads import torch_threads
from icm.decoder.pipeline import decode_bytes
from icm.encoder.pipeline import encode_picture
from icm.common.output import HASH_CRC32

FAST = InnerCodecConfig(preset="faster")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def photos(shared):
    folder = shared / "data" / "coco-val-dev" / "images"
    return [read_image(path) for path in sorted(folder.glob("*.jpg"))[:2]]


def test_vvc_image_round_trip(photos):
    for rgb in photos:
        sizes = []
        for qp in (27, 42):
            result = encode_picture(rgb, EncoderConfig(tool="vvc-image", qp=qp, inner=FAST))
            decoded = decode_bytes(result.data, DecoderConfig(inner=FAST))
            assert decoded.output.picture.shape == rgb.shape
            np.testing.assert_array_equal(decoded.output.picture, result.decoded.picture)
            assert decoded.hash_hex == result.decoded.digest(HASH_CRC32).hex()
            sizes.append(len(result.data))
            assert psnr(rgb, decoded.output.picture) > (30 if qp == 27 else 24)
        assert sizes[1] < sizes[0] / 3


def test_vvc_image_resampled_to_task_input(photos):
    rgb = photos[0]
    full = encode_picture(rgb, EncoderConfig(tool="vvc-image", qp=32, inner=FAST))
    small = encode_picture(rgb, EncoderConfig(tool="vvc-image", qp=32, resample="task", inner=FAST))
    ps = parse(small.data).parameter_set
    assert (ps["ps_coded_width"], ps["ps_coded_height"]) == (320, 320)
    assert (ps["ps_picture_width"], ps["ps_picture_height"]) == (rgb.shape[1], rgb.shape[0])
    decoded = decode_bytes(small.data, DecoderConfig(inner=FAST)).output.picture
    assert decoded.shape == rgb.shape
    assert len(small.data) < len(full.data)
    assert psnr(rgb, decoded) > 22


def test_vvc_image_scale_resampling(photos):
    rgb = photos[0]
    result = encode_picture(rgb, EncoderConfig(tool="vvc-image", qp=32, resample="0.5", inner=FAST))
    ps = parse(result.data).parameter_set
    assert ps["ps_coded_width"] == round(rgb.shape[1] / 2)
    assert decode_bytes(result.data, DecoderConfig(inner=FAST)).output.picture.shape == rgb.shape


def test_vvc_feature_round_trip_keeps_detections(photos):
    network = load_task_network("yolo-fastest-1.1-xl", input_size=320)
    rgb = photos[0]
    with torch.no_grad():
        original = [t[0].numpy() for t in network.part1(network.preprocess(rgb))]
    result = encode_picture(rgb, EncoderConfig(tool="vvc-feature", qp=22, inner=FAST))
    decoded = decode_bytes(result.data, DecoderConfig(inner=FAST))
    features = decoded.output.features
    assert [f.shape for f in features] == [f.shape for f in original]
    for got, want in zip(features, original):
        assert np.abs(got - want).mean() < 0.1 * np.abs(want).mean()
    with torch.no_grad():
        size = (rgb.shape[1], rgb.shape[0])
        reference = network.part2([torch.from_numpy(f)[None] for f in original], size)
        coded = network.part2([torch.from_numpy(f)[None] for f in features], size)
    strong = reference.scores > 0.5
    assert strong.sum() > 0
    kept = {int(c) for c, s in zip(coded.category_ids, coded.scores) if s > 0.3}
    assert {int(c) for c in reference.category_ids[strong]} <= kept


def test_decoding_is_deterministic_across_runs_and_threads(photos):
    data = encode_picture(photos[1], EncoderConfig(tool="vvc-feature", qp=37, inner=FAST)).data
    hashes = set()
    for threads in (1, 2):
        with torch_threads(threads):
            hashes.add(decode_bytes(data, DecoderConfig()).hash_hex)
    assert len(hashes) == 1
