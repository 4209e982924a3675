"""Where the shared data and models live.

The data folder ``shared/`` sits beside the checkout (``../shared``). It is never copied into
the repository; a user points elsewhere with the environment variable ``ICM_SHARED_DIR``.
"""
import os
from pathlib import Path

from .errors import ResourceError

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_SHARED = "ICM_SHARED_DIR"


def shared_dir(required: bool = True) -> Path | None:
    """Return the shared data folder: $ICM_SHARED_DIR, else ``../shared`` beside the checkout."""
    env = os.environ.get(ENV_SHARED)
    candidates = [Path(env)] if env else [REPO_ROOT.parent / "shared", Path.cwd().parent / "shared"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    if required:
        where = env if env else str(candidates[0])
        raise ResourceError(f"shared data folder not found at {where} (set {ENV_SHARED})")
    return None


def shared_path(*parts: str, required: bool = True) -> Path | None:
    """A path inside the shared folder; raise ResourceError if it (or the folder) is missing."""
    root = shared_dir(required=required)
    if root is None:
        return None
    path = root.joinpath(*parts)
    if not path.exists():
        if required:
            raise ResourceError(f"missing shared file: {path}")
        return None
    return path


def coco_val_dev() -> tuple[Path, Path]:
    """(images folder, detection annotations) of the evaluation set ``coco-val-dev``."""
    return (shared_path("data", "coco-val-dev", "images"),
            shared_path("data", "coco-val-dev", "annotations", "instances_det.json"))


def detector_files(name: str = "yolo-fastest-1.1-xl") -> tuple[Path, Path]:
    """(cfg, weights) of a darknet detector in ``shared/models/yolo-fastest-1.1``."""
    folder = ("models", "yolo-fastest-1.1")
    return shared_path(*folder, name + ".cfg"), shared_path(*folder, name + ".weights")
