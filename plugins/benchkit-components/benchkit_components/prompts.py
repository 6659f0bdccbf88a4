"""WinCLIP's compositional prompt ensemble (Jeong et al., "WinCLIP: Zero-/Few-Shot Anomaly Classification and
Segmentation", CVPR 2023), the one home of the lists for every plugin that prompts a text encoder.

Seven normal and four anomalous state phrases of an object name, each set in 21 templates: 147 normal and 84
anomalous sentences. The lists and their order are those of anomalib's ``models/image/winclip/prompting.py`` and of
zqhang/Accurate-WinCLIP-pytorch's ``prompt_order``; both list "a jpeg corrupted photo of the {}." twice, and so do
we (it weighs that template double in a mean embedding). WinCLIP averages each set's embeddings before normalising.
"""

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


def compose(object_name: str, states: tuple[str, ...], templates: tuple[str, ...] = TEMPLATES) -> list[str]:
    """Every state phrase of ``object_name`` in every template, state by state (WinCLIP's order)."""
    return [template.format(state.format(object_name)) for state in states for template in templates]


def sentences(object_name: str) -> tuple[list[str], list[str]]:
    """WinCLIP's normal (147) and anomalous (84) sentences for ``object_name``."""
    return compose(object_name, NORMAL_STATES), compose(object_name, ANOMALOUS_STATES)
