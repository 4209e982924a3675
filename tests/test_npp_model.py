"""npp-vvc: the preprocessor, the proxy, the straight-through surrogate and the VVenC pairs (fast)."""
import json

import numpy as np
import pytest
import torch

from icm.anchors.vvc_image import VvcImageDecoder, VvcImageEncoder
from icm.common.config import DecoderConfig, EncoderConfig, InnerCodecConfig
from icm.common.image_io import read_image
from icm.common.models import npp as npp_module
from icm.common.models import proxy_codec
from icm.common.models.npp import NppConfig, NppModel, macs_per_pixel, parameter_count
from icm.common.models.proxy_codec import ProxyCodec, ProxyConfig
from icm.ctc_scripts.training import npp_pairs
from icm.ctc_scripts.training.train_npp import quantise_8bit, surrogate, task_lambda

SMALL = NppConfig(widths=[4, 8, 8, 8], qp_hidden=8)
SMALL_PROXY = ProxyConfig(channels=8, latent_channels=8, hyper_channels=8, qp_hidden=8)


def randomise_qp_mlp(model: NppModel) -> None:
    torch.manual_seed(1)
    torch.nn.init.normal_(model.qp_mlp.out.weight, std=1.0)
    torch.nn.init.normal_(model.head_out.weight, std=0.3)


def test_npp_shapes_identity_at_init_and_any_size():
    model = NppModel(SMALL)
    x = torch.rand(2, 3, 37, 50)
    y = model(x, [22, 47])
    assert y.shape == x.shape
    assert torch.equal(y, x)          # branch 1 starts as the identity, branch 2 at zero


def test_npp_output_is_clamped():
    model = NppModel(SMALL)
    torch.manual_seed(0)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=2.0)
    with torch.no_grad():
        y = model(torch.rand(1, 3, 32, 32), 37)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert float(y.min()) == 0.0 or float(y.max()) == 1.0     # the clamp was active


def test_qp_adaptivity_changes_the_output_and_the_ablation_does_not():
    model = NppModel(SMALL)
    randomise_qp_mlp(model)
    x = torch.rand(1, 3, 32, 32)
    assert not torch.allclose(model(x, 22), model(x, 47))
    fixed = NppModel(NppConfig(widths=[4, 8, 8, 8], qp_adaptive=False))
    assert fixed.qp_mlp is None
    torch.nn.init.normal_(fixed.head_out.weight, std=0.3)
    assert torch.equal(fixed(x, 22), fixed(x, 47))


def test_npp_size_figures_and_weights_file(tmp_path):
    model = NppModel(SMALL)
    randomise_qp_mlp(model)
    assert parameter_count(model) > 0 and macs_per_pixel(model, 32) > 0
    npp_module.save_npz(model, tmp_path / "npp.npz", extra={"step": 3})
    with np.load(tmp_path / "npp.npz", allow_pickle=False) as data:
        assert data["qp_mlp.out.weight"].dtype == np.float32
    loaded = npp_module.load_npz(tmp_path / "npp.npz")
    x = torch.rand(1, 3, 32, 48)
    assert torch.equal(loaded(x, 30), model(x, 30))


def test_proxy_shapes_bits_and_weights_file(tmp_path):
    model = ProxyCodec(SMALL_PROXY).eval()
    x = torch.rand(2, 3, 64, 80)
    out = model(x, torch.tensor([22, 47]))
    assert out.x_hat.shape == x.shape and out.bits.shape == (2,)
    assert bool((out.bits > SMALL_PROXY.header_bits).all())
    gains = model.gains(torch.tensor([22, 47]), 2, x.device).detach()
    assert float(gains[0].mean()) > float(gains[1].mean())    # a lower QP quantises more finely
    proxy_codec.save_npz(model, tmp_path / "proxy.npz")
    loaded = proxy_codec.load_npz(tmp_path / "proxy.npz")
    assert torch.allclose(loaded(x, 37, noise=False).bits, model(x, 37, noise=False).bits)


def test_straight_through_gives_the_real_value_and_the_proxy_gradient():
    model = ProxyCodec(SMALL_PROXY).eval()
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    real_picture, real_bits = torch.rand(1, 3, 64, 64), torch.tensor([1234.0])
    torch.manual_seed(0)
    out = model(x, 37, noise=False)
    x_hat, bits = surrogate(out.x_hat, real_picture), surrogate(out.bits, real_bits)
    assert torch.allclose(x_hat, real_picture, atol=1e-6) and torch.allclose(bits, real_bits)   # float rounding
    weights = torch.rand_like(real_picture)
    (grad_surrogate,) = torch.autograd.grad((x_hat * weights).sum() + bits.sum(), x)
    out = model(x, 37, noise=False)
    (grad_proxy,) = torch.autograd.grad((out.x_hat * weights).sum() + out.bits.sum(), x)
    assert torch.allclose(grad_surrogate, grad_proxy) and float(grad_proxy.abs().sum()) > 0


def test_quantise_8bit_and_task_lambda():
    x = torch.tensor([0.1234, 0.5], requires_grad=True)
    q = quantise_8bit(x)
    assert torch.allclose(q * 255, torch.round(q * 255))
    (grad,) = torch.autograd.grad(q.sum(), x)
    assert torch.equal(grad, torch.ones(2))
    lam = task_lambda(torch.tensor([34, 37, 40]), 0.02)
    assert torch.allclose(lam, torch.tensor([0.04, 0.02, 0.01]))


@pytest.fixture(scope="module")
def codec():
    return npp_pairs.VvcImageRoundTrip("faster", threads=1)


def test_round_trip_is_the_vvc_image_path(shared, codec):
    rgb = np.ascontiguousarray(npp_pairs.random_crop(
        read_image(shared / "data" / "kodak" / "kodim23.png"), np.random.default_rng(0), 32))
    decoded, bits = codec(rgb, 37)
    config = EncoderConfig(tool="vvc-image", qp=37, inner=InnerCodecConfig(preset="faster"))
    result = VvcImageEncoder().encode(rgb, config)
    bitstream = getattr(result, "bitstream", result)     # a ToolEncoding, or the Bitstream itself
    assert bits == 8 * len(bitstream.payload(0, 0))
    assert np.array_equal(decoded, VvcImageDecoder().decode(bitstream, DecoderConfig()).picture)


def test_pairs_generation_round_trips_and_resumes(shared, tmp_path, monkeypatch, capsys):
    files = [shared / "data" / "kodak" / "kodim01.png", shared / "data" / "kodak" / "kodim02.png"]
    monkeypatch.setattr(npp_pairs, "training_picture_files", lambda: files)
    argv = ["--out", str(tmp_path), "--crop", "32", "--chunk", "1", "--train-chunks", "1", "--heldout-chunks", "0",
            "--qps-per-crop", "2"]
    assert npp_pairs.main(argv) == 0
    pairs = npp_pairs.load_pairs(npp_pairs.chunk_files(tmp_path, "train"))
    assert pairs["original"].shape == (1, 32, 32, 3) and pairs["decoded"].shape == (1, 2, 32, 32, 3)
    assert pairs["qp"][0, 0] < pairs["qp"][0, 1] and pairs["bits"][0, 0] > pairs["bits"][0, 1] > 0
    error = pairs["decoded"][0].astype(float) - pairs["original"][0][None].astype(float)
    assert 10 * np.log10(255 ** 2 / (error ** 2).mean()) > 20
    assert npp_pairs.main(argv) == 0
    assert "1 of 1 chunks present; 0 to make" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        npp_pairs.main(argv[:-1] + ["3"])       # other settings in the same folder are refused


def test_npp_training_run_trains_validates_and_exports(shared, tmp_path, monkeypatch):
    from icm.ctc_scripts.training import train_npp
    files = sorted((shared / "data" / "kodak").glob("*.png"))[:10]      # the tenth is the held-out picture
    monkeypatch.setattr(train_npp, "training_picture_files", lambda: files)
    proxy_codec.save_npz(ProxyCodec(SMALL_PROXY), tmp_path / "proxy.npz")
    argv = ["train", "--run", str(tmp_path / "run"), "--proxy", str(tmp_path / "proxy.npz"), "--widths", "4,8,8,8",
            "--batch", "1", "--full-size", "64", "--steps", "2", "--val-every", "2", "--val-qps", "42",
            "--log-every", "1", "--threads", "1"]
    assert train_npp.main(train_npp.NppRun, argv + ["--distortion-gradient", "identity"]) == 0
    assert (tmp_path / "run" / "done").exists()
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)   # the held-out-best validation's model
    assert best["best"]["step"] == 2 and best["best"]["J_ratio"] > 0
    export = ["export", "--run", str(tmp_path / "run"), "-o", str(tmp_path / "n.npz")]
    assert train_npp.main(train_npp.NppRun, export) == 0
    model = npp_module.load_npz(tmp_path / "n.npz")
    assert model(torch.rand(1, 3, 40, 40), 42).shape == (1, 3, 40, 40)
    assert json.loads(str(np.load(tmp_path / "n.npz")["config"]))["extra"]["step"] == 2
