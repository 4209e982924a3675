"""Encode/decode time, bpp and mAP of the VVC anchors on coco-val-dev (a quick check, not the CTC).

    python -m icm.ctc_scripts.studies.bench_anchors --tools vvc-image vvc-feature --qps 37 --preset medium

Every image goes through the real encoder and decoder pipelines (bitstream bytes in memory);
bpp = all bits / all original pixels; mAP with pycocotools on the decoded output.
"""
import argparse

import torch

from ...common.config import DecoderConfig, EncoderConfig, InnerCodecConfig
from ...common.image_io import read_image
from ...common.paths import coco_val_dev
from ...common.tasknet.coco_eval import evaluate_detections, image_ids_by_file_name
from ...common.tasknet.registry import load_task_network
from .coding_loop import Tally, code_images, detections_of


def run_point(tool: str, qp: int, resample: str | None, preset: str, images, ids, network, annotations):
    inner = InnerCodecConfig(preset=preset)
    tally, results = Tally(), []
    encoder = EncoderConfig(tool=tool, qp=qp, resample=resample, inner=inner)
    for item in code_images(images, encoder, DecoderConfig(inner=inner), tally):
        results += detections_of(network, item.decoded.output, item.size).to_coco_results(ids[item.path.name])
    scores = evaluate_detections(results, annotations, image_ids=[ids[p.name] for p, _ in images])
    return tally.bpp, scores, tally.mean_encode_seconds, tally.mean_decode_seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tools", nargs="+", default=["vvc-image", "vvc-feature"])
    parser.add_argument("--qps", nargs="+", type=int, default=[37])
    parser.add_argument("--resample", default=None, help="vvc-image resampling ('task', WxH or a scale)")
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (0 = all 64)")
    args = parser.parse_args(argv)
    folder, annotations = coco_val_dev()
    paths = sorted(folder.glob("*.jpg"))[: args.limit or None]
    images = [(p, read_image(p)) for p in paths]
    ids = image_ids_by_file_name(annotations)
    network = load_task_network("yolo-fastest-1.1-xl", input_size=320)
    print(f"coco-val-dev: {len(images)} images, yolo-fastest-1.1-xl at 320x320, VVenC preset {args.preset}, "
          f"torch threads {torch.get_num_threads()}")
    print("tool         resample  qp      bpp   mAP  mAP50  encode s  decode s")
    for tool in args.tools:
        for qp in args.qps:
            resample = args.resample if tool == "vvc-image" else None
            bpp, scores, enc, dec = run_point(tool, qp, resample, args.preset, images, ids, network, annotations)
            print(f"{tool:<12} {str(resample or '-'):<8} {qp:>3} {bpp:8.4f} {100 * scores['mAP']:5.1f} "
                  f"{100 * scores['mAP50']:6.1f} {enc:9.3f} {dec:9.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
