"""ci-icm's runtime weights (non-pickle npz) and the exact runtime: a tiny randomly initialised model exported,
reloaded with ``allow_pickle=False``, encoded and decoded; identical on 1 and 2 threads; partial decoding;
close to the float model."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from icm.common.layers.exact import from_fixed
from icm.common.models.ci_icm import CiIcmModel, CiIcmRuntime, export_runtime
from icm.common.threads import torch_threads
from tests.test_ci_icm_model import TINY_INFO, pictures, tiny_config, train_a_little


@pytest.fixture(scope="module")
def exported():
    with torch_threads(1):
        torch.manual_seed(7)
        model = CiIcmModel(tiny_config())
        train_a_little(model, 3, seed=8)
        buffer = io.BytesIO()
        np.savez(buffer, **export_runtime(model, extra=TINY_INFO))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        weights = {k: data[k] for k in data.files}
    return model.eval(), weights


def test_weights_are_plain_arrays(exported):
    _, weights = exported
    assert weights["gains_q16"].dtype == np.int64 and weights["gains_q16"].shape == (3, 4)
    assert weights["g_s.w0"].dtype == np.int16 and weights["g_a.w0"].dtype == np.float16
    assert weights["prior2.quantized_cdf"].dtype == np.int32
    assert all(v.dtype != object for v in weights.values())


def test_runtime_round_trip_threads_and_partial_decoding(exported):
    model, weights = exported
    x = pictures(1, seed=9)
    results = {}
    for threads in (1, 2):
        with torch_threads(threads):
            runtime = CiIcmRuntime(weights)
            z_bytes, streams = runtime.encode(x, quality=1)
            full = runtime.decode(z_bytes, streams, 1, 64, 64)
            part = runtime.decode(z_bytes, streams[:2], 1, 64, 64)
            adapted = runtime.decode(z_bytes, streams, 1, 64, 64, task_network="yolo-fastest-1.1")
            results[threads] = (z_bytes, streams, full, part, adapted)
    (z1, s1, full1, part1, ad1), (z2, s2, full2, part2, ad2) = results[1], results[2]
    assert z1 == z2 and s1 == s2
    assert torch.equal(full1, full2) and torch.equal(part1, part2) and torch.equal(ad1, ad2)
    assert full1.dtype == torch.float64 and torch.equal(full1, torch.round(full1))
    assert torch.equal(ad1, full1)  # untrained adapters are the identity
    assert not torch.equal(part1, full1)
    with torch.no_grad():
        ref = model(x, torch.tensor([1]), noise=False)["x_hat"]
    assert (from_fixed(full1) - ref).abs().mean() < 0.02
