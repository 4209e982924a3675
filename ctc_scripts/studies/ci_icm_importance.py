"""ci-icm's learned channel importance against the channel index (CIG and the channel-order loss), as a plot.

    python -m icm.ctc_scripts.studies.ci_icm_importance out/ci_icm/runs/main out/ci_icm/runs/noorder \\
        -o docs/ci_icm_importance.png

Each argument is a training run folder (its ``importance.json``, which the training writes at every validation:
the running estimate of ``|dLoss/dy_hat|`` times ``E|y_hat - mu|`` per latent channel on held-out training
pictures, ``train_ci_icm.py``) or such a file; its group sizes come from the run's ``args.json``
(``--groups``, default the model's). One curve per run, the importance on a log scale, the group boundaries
as vertical lines. It prints, per run, the share of the total importance in each group, the number of
adjacent channel pairs out of order (a channel more important than the one before it, what the order loss
penalises), and Spearman's rank correlation of channel index and importance (-1 when the index is the rank).
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np

from ...common.fileio import write_bytes_atomically
from ...common.models.ci_icm import CiIcmConfig


def load(source: str | Path) -> tuple[str, int, np.ndarray, tuple[int, ...]]:
    """(label, step, importance per channel, group sizes) of a run folder or an ``importance.json``."""
    path = Path(source)
    folder = path if path.is_dir() else path.parent
    file = (path / "importance.json") if path.is_dir() else path
    try:
        values = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"ci_icm_importance: cannot read {file}: {exc.__class__.__name__}") from None
    groups = CiIcmConfig().groups
    args_file = folder / "args.json"
    if args_file.is_file():
        args = json.loads(args_file.read_text())
        if args.get("baseline"):
            groups = (int(args.get("latent", sum(groups))),)
        elif args.get("groups"):
            groups = tuple(int(g) for g in args["groups"])
    return folder.name, int(values["step"]), np.asarray(values["importance"], dtype=np.float64), groups


def summary(importance: np.ndarray, groups: tuple[int, ...]) -> dict:
    edges = np.cumsum((0,) + tuple(groups))
    total = importance.sum()
    from scipy.stats import spearmanr

    return {"group_share": [float(importance[lo:hi].sum() / total) for lo, hi in zip(edges[:-1], edges[1:])],
            "out_of_order": int(np.sum(importance[1:] > importance[:-1])),
            "pairs": int(importance.size - 1),
            "rank_correlation": float(spearmanr(np.arange(importance.size), importance).statistic)}


def plot(runs: list, output: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    for label, step, importance, groups in runs:
        axis.plot(np.arange(importance.size), np.maximum(importance, 1e-6), "-", linewidth=1.1,
                  label=f"{label} (step {step})")
    for edge in np.cumsum(runs[0][3])[:-1]:
        axis.axvline(edge - 0.5, color="0.6", linewidth=0.8, linestyle=":")
    axis.set_yscale("log")
    axis.set_xlabel("latent channel index (coding order; dotted: group boundaries)")
    axis.set_ylabel("learned importance")
    axis.set_title("ci-icm: channel importance against channel index")
    axis.grid(True, which="major", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    write_bytes_atomically(output, buffer.getvalue())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="training run folders or importance.json files")
    parser.add_argument("-o", "--output", default=None, help="write the plot here (PNG)")
    args = parser.parse_args(argv)
    runs = [load(source) for source in args.runs]
    for label, step, importance, groups in runs:
        s = summary(importance, groups)
        shares = ", ".join(f"{100 * v:.1f} %" for v in s["group_share"])
        print(f"{label} (step {step}): groups {list(groups)}, importance share per group {shares}; "
              f"{s['out_of_order']} of {s['pairs']} adjacent pairs out of order; Spearman correlation of index and "
              f"importance {s['rank_correlation']:.2f} (-1: the index is the importance rank)")
    if args.output:
        plot(runs, Path(args.output))
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
