"""The images of a CTC and their COCO image ids.

With annotations, the dataset is the images of the folder that the annotation file lists (sorted by file
name); without, every image of the folder, numbered 1, 2, ... in file-name order (label-free: only the task
fidelity is measured).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...common.errors import InputError, ResourceError


@dataclass
class DatasetConfig:
    name: str
    images: str
    annotations: str | None = None
    segmentation_annotations: str | None = None
    limit: int = 0
    extensions: tuple[str, ...] = (".jpg", ".jpeg", ".png")


@dataclass
class Dataset:
    name: str
    folder: Path
    files: list[str]  # file names inside ``folder``
    image_ids: list[int]
    annotations: Path | None
    segmentation_annotations: Path | None

    def __len__(self) -> int:
        return len(self.files)

    def path(self, index: int) -> Path:
        return self.folder / self.files[index]

    def to_dict(self) -> dict:
        return {"name": self.name, "folder": str(self.folder), "files": self.files, "image_ids": self.image_ids,
                "annotations": str(self.annotations) if self.annotations else None,
                "segmentation_annotations": (str(self.segmentation_annotations)
                                             if self.segmentation_annotations else None)}

    @classmethod
    def from_dict(cls, values: dict) -> "Dataset":
        return cls(values["name"], Path(values["folder"]), list(values["files"]), [int(i) for i in values["image_ids"]],
                   Path(values["annotations"]) if values.get("annotations") else None,
                   Path(values["segmentation_annotations"]) if values.get("segmentation_annotations") else None)


def load_dataset(config: DatasetConfig) -> Dataset:
    """The dataset's images and ids; InputError when the folder, the annotation file or the images are missing."""
    folder = Path(config.images)
    if not folder.is_dir():
        raise InputError(f"dataset '{config.name}': image folder not found: {folder}")
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in config.extensions)
    annotations = Path(config.annotations) if config.annotations else None
    segmentation = Path(config.segmentation_annotations) if config.segmentation_annotations else None
    for path in (annotations, segmentation):
        if path is not None and not path.is_file():
            raise InputError(f"dataset '{config.name}': annotation file not found: {path}")
    if annotations is not None:
        from ...common.tasknet.coco_eval import image_ids_by_file_name  # the task networks' package: torch

        try:
            ids = image_ids_by_file_name(annotations)
        except ResourceError as exc:  # unreadable or malformed annotation file, with the reason
            raise InputError(f"dataset '{config.name}': {exc}") from None
        files = [name for name in files if name in ids]
        image_ids = [ids[name] for name in files]
    else:
        image_ids = list(range(1, len(files) + 1))
    stems = [Path(name).stem for name in files]
    if len(set(stems)) != len(stems):
        twice = sorted({s for s in stems if stems.count(s) > 1})[0]
        raise InputError(f"dataset '{config.name}': two images named '{twice}.*' (results are stored by name)")
    if config.limit:
        files, image_ids = files[:config.limit], image_ids[:config.limit]
    if not files:
        raise InputError(f"dataset '{config.name}': no {'annotated ' if annotations else ''}images in {folder}")
    return Dataset(config.name, folder, files, image_ids, annotations, segmentation)
