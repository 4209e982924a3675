"""How well the ``npp-vvc`` proxy imitates VVenC, per QP, on held-out pairs (``npp_pairs.py``).

    python -m icm.ctc_scripts.training.npp_proxy_fidelity --proxy out/npp/runs/proxy      # a run folder
    python -m icm.ctc_scripts.training.npp_proxy_fidelity --proxy proxy.npz --pairs out/npp/pairs

Per QP, over the held-out crops (pictures never used in training): ``r_bits`` the Pearson correlation of the
proxy's bits with VVC's payload bits across crops, ``r_logbits`` the same in the log domain, ``rel_err`` the
mean ``|proxy / vvc - 1|`` of the bits, the mean bpp of both, ``psnr_pv`` the PSNR of the proxy's picture
against VVC's decoded picture (the imitation), and for reference ``psnr_vo`` (VVC against the original) and
``psnr_po`` (the proxy against the original). The proxy runs deterministically (rounded latent).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ...common.models.proxy_codec import ProxyCodec, load_npz
from .npp_pairs import chunk_files, load_pairs
from .npp_proxy_measure import format_table, proxy_fidelity
from .skeleton import run_from_checkpoint
from .train_npp_proxy import ProxyRun


def load_proxy(source: Path, device: str = "cpu") -> ProxyCodec:
    """A proxy from an exported ``.npz`` or from a training run folder."""
    if source.suffix == ".npz":
        return load_npz(source).to(device)
    return run_from_checkpoint(ProxyRun, source, device).model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="fidelity of the npp-vvc proxy per QP on held-out pairs")
    parser.add_argument("--proxy", required=True, help="exported .npz or training run folder")
    parser.add_argument("--pairs", default="out/npp/pairs")
    parser.add_argument("--split", default="heldout", choices=("heldout", "train"))
    parser.add_argument("--max-chunks", type=int, default=0, help="use only the first chunks (0: all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    files = chunk_files(Path(args.pairs), args.split)
    files = files[:args.max_chunks] if args.max_chunks else files
    fidelity = proxy_fidelity(load_proxy(Path(args.proxy), args.device), load_pairs(files), args.device)
    print(format_table(fidelity))
    if args.json:
        Path(args.json).write_text(json.dumps(fidelity, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
