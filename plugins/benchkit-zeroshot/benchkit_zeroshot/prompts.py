"""WinCLIP's prompt ensemble (Jeong et al., CVPR 2023), as anomalib's ``prompting.py`` and Accurate-WinCLIP's
``prompt_order`` list it: 7 normal and 4 anomalous state phrases times 21 templates (one listed twice in both)."""

from __future__ import annotations

NORMAL_STATES = ("{}", "flawless {}", "perfect {}", "unblemished {}", "{} without flaw", "{} without defect",
                 "{} without damage")
ANOMALOUS_STATES = ("damaged {}", "{} with flaw", "{} with defect", "{} with damage")
TEMPLATES = (
    "a cropped photo of the {}.", "a close-up photo of a {}.", "a close-up photo of the {}.",
    "a bright photo of a {}.", "a bright photo of the {}.", "a dark photo of the {}.", "a dark photo of a {}.",
    "a jpeg corrupted photo of the {}.", "a jpeg corrupted photo of the {}.", "a blurry photo of the {}.",
    "a blurry photo of a {}.", "a photo of a {}.", "a photo of the {}.", "a photo of a small {}.",
    "a photo of the small {}.", "a photo of a large {}.", "a photo of the large {}.",
    "a photo of the {} for visual inspection.", "a photo of a {} for visual inspection.",
    "a photo of the {} for anomaly detection.", "a photo of a {} for anomaly detection.",
)


def sentences(object_name: str) -> tuple[list[str], list[str]]:
    """The normal (147) and anomalous (84) sentences for ``object_name``."""
    normal = [t.format(s.format(object_name)) for s in NORMAL_STATES for t in TEMPLATES]
    anomalous = [t.format(s.format(object_name)) for s in ANOMALOUS_STATES for t in TEMPLATES]
    return normal, anomalous
