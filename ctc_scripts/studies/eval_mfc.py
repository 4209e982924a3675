"""bpp, mAP, partial-decoding mAP and times of ``mfc`` models on coco-val-dev (through the real pipelines).

    python -m icm.ctc_scripts.studies.eval_mfc --model mfc --qualities 1 2 3 4 --max-groups 1 2 3 --json eval.json

Every image goes through ``encode_picture`` and ``decode_bytes`` (hash checked for full decodes); the
partial decodes (``--max-groups k``) reuse the same bitstream and count only the bytes a decoder needs
for them (the stream without the payloads of groups >= k). bpp = all bits / all original pixels.
``ICM_MFC_WEIGHTS`` points at weights that are not (yet) in ``common/models/weights``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from ...common.bitstream import SIDE_INFORMATION, serialize
from ...common.config import DecoderConfig, EncoderConfig
from ...common.image_io import read_image
from ...common.paths import coco_val_dev
from ...common.registry import ToolInstances
from ...common.tasknet.coco_eval import evaluate_detections, image_ids_by_file_name
from ...common.tasknet.registry import load_task_network
from ...decoder.pipeline import decode_bytes
from ...encoder.pipeline import encode_picture
from .coding_loop import Tally, code_images, detections_of


def partial_stream_bytes(bitstream, group_limit: int) -> int:
    """Size of the stream without the payload units of groups >= ``group_limit`` (what a decoder of the
    first ``group_limit`` groups needs)."""
    kept = [u for u in bitstream.payloads if u["pl_type"] != 0 or u["pl_group_idx"] < group_limit]
    return len(serialize(dataclasses.replace(bitstream, payloads=kept)))


def evaluate(model: str, quality: int, images, ids, annotations, network, max_groups=(), device="cpu",
             refine_steps: int | None = None, tools: ToolInstances | None = None) -> dict:
    config = EncoderConfig(tool="mfc", quality=quality, model=model, device=device, refine_steps=refine_steps)
    tools = tools if tools is not None else ToolInstances()
    tally, results = Tally(), []
    partial = {k: {"bits": 0, "results": []} for k in max_groups}
    side = {"z": 0, "groups": 0, "header": 0}
    for item in code_images(images, config, DecoderConfig(device=device), tally, tools):
        encoded, image_id = item.encoded, ids[item.path.name]
        results += detections_of(network, item.decoded.output, item.size).to_coco_results(image_id)
        bs = item.decoded.bitstream
        for unit in bs.payloads:
            key = "z" if unit["pl_group_idx"] == SIDE_INFORMATION else "groups"
            side[key] += len(unit["pl_data"])
        side["header"] += len(encoded.data) - sum(len(u["pl_data"]) for u in bs.payloads)
        for k in max_groups:
            part = decode_bytes(encoded.data, DecoderConfig(device=device, max_groups=k), tools=tools)
            partial[k]["results"] += detections_of(network, part.output, item.size).to_coco_results(image_id)
            partial[k]["bits"] += 8 * partial_stream_bytes(bs, k)
    image_ids = [ids[p.name] for p, _ in images]
    scores = evaluate_detections(results, annotations, image_ids=image_ids)
    steps = tools.registry.get("mfc").resolve(config)["refine_steps"]
    row = {"model": model, "quality": quality, "refine_steps": steps,
           "images": len(images), "bpp": tally.bpp,
           "mAP": 100 * scores["mAP"], "mAP50": 100 * scores["mAP50"],
           "encode_s": tally.mean_encode_seconds, "decode_s": tally.mean_decode_seconds,
           "bytes_per_image": {k: v / len(images) for k, v in side.items()}}
    row["partial"] = {}
    for k, value in partial.items():
        s = evaluate_detections(value["results"], annotations, image_ids=image_ids)
        row["partial"][k] = {"bpp": value["bits"] / tally.pixels, "mAP": 100 * s["mAP"], "mAP50": 100 * s["mAP50"]}
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mfc")
    parser.add_argument("--qualities", type=int, nargs="+", default=[3])
    parser.add_argument("--max-groups", type=int, nargs="*", default=[])
    parser.add_argument("--refine-steps", type=int, default=None,
                        help="encoder-side latent refinement steps (default: the encoder's)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (0 = all 64)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", default=None, help="append the rows to this JSON-lines file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder, annotations = coco_val_dev()
    paths = sorted(folder.glob("*.jpg"))[: args.limit or None]
    images = [(p, read_image(p)) for p in paths]
    ids = image_ids_by_file_name(annotations)
    network = load_task_network("yolo-fastest-1.1-xl", input_size=320, device=args.device)
    tools = ToolInstances()  # kept for every quality: tables, weights, networks
    encode_picture(images[0][1], EncoderConfig(tool="mfc", quality=args.qualities[0], model=args.model,
                                               device=args.device), tools=tools)  # warm-up
    print(f"coco-val-dev: {len(images)} images, mfc model {args.model}, torch threads {torch.get_num_threads()}")
    for quality in args.qualities:
        row = evaluate(args.model, quality, images, ids, annotations, network, args.max_groups, args.device,
                       args.refine_steps, tools)
        b = row["bytes_per_image"]
        print(f"{args.model} q{quality} refine {row['refine_steps']}: bpp {row['bpp']:.5f} mAP {row['mAP']:.2f} "
              f"mAP50 {row['mAP50']:.2f} enc {row['encode_s']:.3f} s dec {row['decode_s']:.3f} s | "
              f"bytes/image: headers {b['header']:.1f} z {b['z']:.1f} groups {b['groups']:.1f}", flush=True)
        for k, p in row["partial"].items():
            print(f"    max-groups {k}: bpp {p['bpp']:.5f} mAP {p['mAP']:.2f} mAP50 {p['mAP50']:.2f}", flush=True)
        if args.json:
            with open(args.json, "a") as handle:
                handle.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
