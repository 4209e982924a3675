"""Where an ``mfc`` model loses accuracy: mAP of NN part 2 on four mixes of original and decoded tensors.

    python -m icm.ctc_scripts.studies.mfc_probe --quality 4 [--model short] [--limit N] [--refine-steps N]

On coco-val-dev: (a) both tensors original (the uncompressed reference); (b) s32 original, s16 predicted
from it by the model's prediction network (no residual: the ceiling of cross-scale prediction); (c) s16
original, s32 decoded (the cost of coding s32 alone); (d) the model's full decode. Models that predict s16
from a coded s32 only (the ``mfc`` structure) are probed. The streams are the encoder's, with its default
latent refinement unless ``--refine-steps`` says otherwise.
"""
from __future__ import annotations

import argparse

import torch

from ...common.config import DecoderConfig, EncoderConfig
from ...common.image_io import read_image
from ...common.layers.exact import from_fixed, to_fixed
from ...common.registry import ToolInstances
from ...common.paths import coco_val_dev
from ...common.tasknet.coco_eval import evaluate_detections, image_ids_by_file_name
from ...common.tasknet.registry import load_task_network
from ...decoder.pipeline import decode_bytes
from ...encoder.pipeline import encode_picture

MIXES = {"a": "s16 original, s32 original", "b": "s16 predicted from the original s32, s32 original",
         "c": "s16 original, s32 decoded", "d": "s16 and s32 decoded (the codec)"}


def probe(model: str, quality: int, limit: int = 0, refine_steps: int | None = None) -> dict[str, float]:
    tools = ToolInstances()
    runtime = tools.models.load(tools.registry.get("mfc").models, model, quality).runtime
    p = runtime.prediction
    if p is None or (p.source, p.target) != (1, 0):
        raise SystemExit(f"mfc model {model} q{quality} does not predict s16 from s32")
    folder, annotations = coco_val_dev()
    ids = image_ids_by_file_name(annotations)
    network = load_task_network(runtime.config.task_network, input_size=runtime.config.input_size)
    config = EncoderConfig(tool="mfc", quality=quality, model=model, refine_steps=refine_steps)
    results = {k: [] for k in MIXES}
    paths = sorted(folder.glob("*.jpg"))[: limit or None]
    for path in paths:
        rgb = read_image(path)
        size = (rgb.shape[1], rgb.shape[0])
        with torch.no_grad():
            s16, s32 = network.part1(network.preprocess(rgb))
            predicted = from_fixed(runtime.predict(to_fixed(s32)))
        # the codec itself: the encoder and decoder pipelines
        encoded = encode_picture(rgb, config, tools=tools)
        features = decode_bytes(encoded.data, DecoderConfig(), tools=tools).output.features
        s16_hat, s32_hat = (torch.from_numpy(f)[None] for f in features)
        mixes = {"a": (s16, s32), "b": (predicted, s32), "c": (s16, s32_hat), "d": (s16_hat, s32_hat)}
        for key, tensors in mixes.items():
            with torch.no_grad():
                dets = network.part2([t.float() for t in tensors], size)
            results[key] += dets.to_coco_results(ids[path.name])
    image_ids = [ids[p.name] for p in paths]
    return {k: 100 * evaluate_detections(v, annotations, image_ids=image_ids)["mAP"] for k, v in results.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mfc")
    parser.add_argument("--quality", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (0 = all 64)")
    parser.add_argument("--refine-steps", type=int, default=None, help="encoder refinement (default: the encoder's)")
    args = parser.parse_args(argv)
    scores = probe(args.model, args.quality, args.limit, args.refine_steps)
    for key, label in MIXES.items():
        print(f"({key}) {label}: mAP {scores[key]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
