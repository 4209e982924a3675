"""Label-free task fidelity of codec points on the held-out training pictures (never coco-val-dev), so that an
encoder setting can be chosen by it.

    python -m icm.ctc_scripts.studies.heldout_fidelity --point ci-icm:quality=2 --point ci-icm:quality=4 \\
        --point vvc-image:qp=37:resample=task --point vvc-image:qp=42:resample=task

Every held-out picture (whole, at its own size) goes through the real encoder and decoder of each point
(``TOOL[:KEY=VALUE...]``, as ``bench_speed``); the task network (``--task-network``, default the XL detector)
runs on the decoded picture. Printed per point: bpp (all bits over all original pixels); the task fidelity, the
CTC's label-free measure (mAP@[.5:.95] and mAP@0.5 of the detections on the decoded pictures against the
network's detections of score >= 0.5 on the originals); and the distillation distance T of training between
the network's raw outputs on the decoded and on the original picture, both through the network's own input
resize.
"""
from __future__ import annotations

import argparse
import json
import sys

import torch

from ...common.errors import IcmError
from ...common.image_io import read_image
from ...common.models.distill import task_distortion
from ...common.registry import ToolInstances
from ...common.tasknet import load_task_network
from ..ctc.config import StatisticsConfig
from ..ctc.fidelity import reference_ground_truth
from ..ctc.metrics import CocoScores, load_ground_truth
from ..training.pictures import select_split, training_picture_files
from .bench_speed import Point
from .coding_loop import code_images



def measure(point: Point, pictures: list, network, reference: dict, ground_truth, tools: ToolInstances) -> dict:
    """bpp, fidelity (mAP and mAP50, percent) and mean T of one point over the pictures."""
    results, distortion = [], 0.0
    for image_id, coded in enumerate(code_images(pictures, point.encoder, point.decoder, point.tally, tools),
                                     start=1):
        picture = coded.decoded.output.picture
        with torch.no_grad():
            results += network.detect(picture).to_coco_results(image_id)
            raw = network.net(network.preprocess(picture))
            distortion += float(task_distortion(raw, reference[image_id]["raw"]))
    scores = CocoScores(ground_truth, results, sorted(reference)).scores()
    return {"point": point.name, "bpp": point.tally.bpp, "fidelity": 100 * scores["mAP"],
            "fidelity50": 100 * scores["mAP50"], "T": distortion / len(pictures)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--point", action="append", required=True, help="TOOL[:KEY=VALUE...] (repeatable)")
    parser.add_argument("--task-network", default="yolo-fastest-1.1-xl")
    parser.add_argument("--limit", type=int, default=0, help="the first N held-out pictures (0 = all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        points = [Point(text) for text in args.point]
    except (ValueError, IcmError) as exc:
        parser.error(str(exc))
    try:
        files = select_split(training_picture_files(), "heldout")[: args.limit or None]
        pictures = [(path, read_image(path)) for path in files]
        network = load_task_network(args.task_network, device="cpu")
        reference = {}
        for image_id, (_, rgb) in enumerate(pictures, start=1):
            with torch.no_grad():
                reference[image_id] = {"width": rgb.shape[1], "height": rgb.shape[0],
                                       "detections": network.detect(rgb).to_coco_results(image_id),
                                       "raw": network.net(network.preprocess(rgb))}
        ground_truth = load_ground_truth(reference_ground_truth(reference, StatisticsConfig().fidelity_threshold))
        print(f"{len(pictures)} held-out training pictures, task network {args.task_network}", flush=True)
        print(f"{'point':<44} {'bpp':>8} {'fidelity':>9} {'fid@.5':>7} {'T':>8}", flush=True)
        tools = ToolInstances()
        for point in points:
            row = measure(point, pictures, network, reference, ground_truth, tools)
            print(f"{row['point']:<44} {row['bpp']:8.4f} {row['fidelity']:9.2f} {row['fidelity50']:7.2f} "
                  f"{row['T']:8.2f}   {json.dumps(row)}", flush=True)
    except IcmError as exc:
        print(f"heldout_fidelity: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
