"""Level limits: the largest values a conforming bitstream may carry at each level.

A decoder checks every limited syntax element against the limits of the stream's
``ps_level_idc`` as soon as it is read, before anything is allocated from it. Elements read
before the level indicator are checked against the largest level.
"""
from ..errors import LevelLimitError

# level_idc -> limits. level_idc is 10 x the level number ("level 1.0" = 10).
LEVELS: dict[int, dict[str, int]] = {
    10: dict(max_picture_width=4096, max_picture_height=4096, max_picture_samples=4096 * 2304,
             max_tensors=8, max_channels=1024, max_feature_dim=1024, max_feature_samples=1 << 22,
             max_groups=64, max_payload_bytes=16 << 20, max_units=1024, max_extension_bytes=1024),
    20: dict(max_picture_width=8192, max_picture_height=8192, max_picture_samples=8192 * 4352,
             max_tensors=16, max_channels=4096, max_feature_dim=2048, max_feature_samples=1 << 24,
             max_groups=256, max_payload_bytes=64 << 20, max_units=4096, max_extension_bytes=4096),
}
DEFAULT_LEVEL_IDC = max(LEVELS)


def level_limits(level_idc: int) -> dict[str, int]:
    try:
        return LEVELS[level_idc]
    except KeyError:
        raise LevelLimitError(f"unknown level_idc {level_idc} (known: {sorted(LEVELS)})") from None


def smallest_level_for(**needs: int) -> int:
    """The lowest level whose limits hold ``needs`` (e.g. max_picture_width=640)."""
    for level_idc in sorted(LEVELS):
        if all(value <= LEVELS[level_idc][key] for key, value in needs.items()):
            return level_idc
    raise LevelLimitError(f"no level allows {needs}")
