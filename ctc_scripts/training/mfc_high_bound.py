"""What the rate points above quality 5 need (docs/mfc.md "Higher rate points (issue 15): plan"), measured label-free
on the feature bank's held-out training pictures (picture index % 10 == 9 of ``mfc_bank.training_pictures``):

* task fidelity when ``s16`` carries i.i.d. Gaussian noise of a given NMSE and ``s32`` is recomputed from it by
  darknet layers 81..108 (the ``s16hi`` structure);
* task fidelity and rate of ``s16`` scalar-quantised with step D, the rate being the empirical entropy of the
  symbols under one static histogram per channel (no transform, no context: a bound any learned codec should
  beat);
* that the task network's layers 81..108 pass the exact-arithmetic bounds, and how far their exact form is
  from float.

    python -m icm.ctc_scripts.training.mfc_high_bound        # about 30 s on one thread
"""
from __future__ import annotations

import json
import tempfile

import torch

from ...common.image_io import read_image
from ...common.layers.exact import from_fixed, to_fixed
from ...common.models.mfc import NOMINAL_PIXELS, darknet_exact_predictor
from ...common.tasknet.coco_eval import evaluate_detections
from ...common.tasknet.registry import load_task_network
from ..ctc.fidelity import reference_ground_truth
from .mfc_bank import training_pictures
from .train_mfc import Teacher

NOISE_NMSE = (0.01, 0.03, 0.05, 0.07, 0.1)
STEPS = (0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 3.2)


def main() -> int:
    torch.set_num_threads(1)
    network = load_task_network("yolo-fastest-1.1-xl", input_size=320)
    teacher = Teacher(network)
    data = []
    for path in [p for i, p in enumerate(training_pictures()) if i % 10 == 9]:
        rgb = read_image(path)
        with torch.no_grad():
            s16, s32 = network.part1(network.preprocess(rgb))
        data.append((s16, s32, (rgb.shape[1], rgb.shape[0])))
    all16 = torch.cat([d[0] for d in data])
    var16 = float(all16.var())
    graph = darknet_exact_predictor("yolo-fastest-1.1-xl", 320, (81, 109))
    graph.check_bounds()
    with torch.no_grad():
        err = max(float(((from_fixed(graph(to_fixed(s16.double()))) - s32) ** 2).mean() / s32.var())
                  for s16, s32, _ in data)
    print(f"{len(data)} held-out pictures; darknet layers 81..108 exact: bounds hold, NMSE against float {err:.1e}")

    def detect(s16, size):
        with torch.no_grad():
            return network.part2([s16, teacher.s32(s16)], size)

    reference = {i: {"width": size[0], "height": size[1], "detections": detect(s16, size).to_coco_results(i)}
                 for i, (s16, _, size) in enumerate(data, 1)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(reference_ground_truth(reference, 0.5), handle)

    def fidelity(transform) -> float:
        results = []
        for i, (s16, _, size) in enumerate(data, 1):
            results += detect(transform(s16), size).to_coco_results(i)
        return 100 * evaluate_detections(results, handle.name)["mAP"]

    for nmse in NOISE_NMSE:
        generator = torch.Generator().manual_seed(0)
        value = fidelity(lambda x: x + torch.randn(x.shape, generator=generator) * (nmse * var16) ** 0.5)
        print(f"noise NMSE {nmse}: fidelity {value:.1f} %", flush=True)
    for step in STEPS:
        symbols = torch.round(all16 / step).to(torch.int64)
        bits = 0.0
        for channel in range(symbols.shape[1]):
            _, counts = torch.unique(symbols[:, channel], return_counts=True)
            bits += float(-(counts * torch.log2(counts.double() / counts.sum())).sum())
        per_picture = bits / len(data)
        nmse = float(((symbols * step - all16) ** 2).mean() / var16)
        value = fidelity(lambda x: torch.round(x / step) * step)
        print(f"step {step}: NMSE {nmse:.4f}, {per_picture:.0f} bits per picture = {per_picture / NOMINAL_PIXELS:.3f} "
              f"bpp at 640x480, {per_picture / all16[0].numel():.2f} bits per value, fidelity {value:.1f} %",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
