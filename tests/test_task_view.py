"""TaskView: the float, differentiable form of the path a decoded picture takes to the task network (the
decoder's resize to the original size, then the network's input resize), used by ci-icm's encoder search."""
import numpy as np
import torch

from icm.common.resample import resize_rgb
from icm.common.tasknet.yolo_fastest import resize_rgb as network_resize, resize_tensor
from icm.encoder.task_view import TaskView


def _picture(height, width, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    smooth = 127 + 60 * np.sin(xx[..., None] / 7.0 + np.arange(3)) * np.cos(yy[..., None] / 5.0)
    return np.clip(smooth + rng.normal(0, 8, (height, width, 3)), 0, 255).astype(np.uint8)


def _as_tensor(rgb):
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255


def test_task_view_follows_the_decoder_and_network_resizes():
    coded = _picture(64, 64)
    for original in [(160, 96), (40, 48)]:  # up in both axes; down in one
        expected = network_resize(resize_rgb(coded, *original, filter="bicubic"), (64, 64), torch.device("cpu"))
        got = TaskView((64, 64), original, lambda x: resize_tensor(x, (64, 64)))(_as_tensor(coded))
        assert got.shape == expected.shape == (1, 3, 64, 64)
        error = (got - expected).abs()
        assert error.mean() < 1.5 / 255 and error.max() < 6 / 255  # only the 8-bit rounding between the passes


def test_task_view_is_the_identity_at_equal_sizes_and_passes_gradients():
    x = _as_tensor(_picture(32, 48)).requires_grad_(True)
    assert torch.equal(TaskView((48, 32), (48, 32), lambda p: resize_tensor(p, (48, 32)))(x), x)
    TaskView((48, 32), (96, 64), lambda p: resize_tensor(p, (32, 32)))(x).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
