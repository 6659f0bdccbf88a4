"""Text prompts of the text-guided method: the object-conditioned normal-state text (OCT, section III-B) and the two
alternatives of its Table VI, the compositional prompt ensemble (CPE, from WinCLIP) and the abnormal prompt
generator (APG, from IAD-GPT).

- OCT: the paper's seven normal states of a class name c (c, flawless c, perfect c, unblemished c, c without flaw,
  c without defect, c without damage) in its two contextual templates ("a photo of a [s].", "a photo of the [s].").
- CPE: WinCLIP's ensemble, the same seven normal states and four anomalous ones (damaged c, c with flaw, c with
  defect, c with damage) in its 21 templates (`benchkit_components.prompts`, the lists' one home).
- APG: IAD-GPT generates abnormal prompts with a language model, which benchkit cannot run offline; we stand in a
  fixed list: WinCLIP's four anomalous states plus eight named surface defects, in OCT's templates.

Class names are used as the paper writes them ("cable gland", not ``cable_gland``): underscores become spaces and
CamelCase names (Eyecandies) are split into lower-case words.
"""

from __future__ import annotations

import re

from benchkit_components.prompts import ANOMALOUS_STATES, NORMAL_STATES, compose
from benchkit_components.prompts import TEMPLATES as WINCLIP_TEMPLATES  # the name CPE's users know it by

GENERATED_ANOMALOUS_STATES = ANOMALOUS_STATES + (
    "{} with a crack", "{} with a scratch", "{} with a hole", "{} with a dent", "{} with a bump", "{} with a stain",
    "{} with contamination", "{} with a missing part")
OCT_TEMPLATES = ("a photo of a {}.", "a photo of the {}.")
PROMPT_SETS = ("oct", "cpe", "apg", "none")


def class_phrase(category: str) -> str:
    """The class name in words: ``cable_gland`` -> "cable gland", ``CandyCane`` -> "candy cane"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", category.replace("_", " ").replace("-", " "))
    return " ".join(words.lower().split())


def _sentences(category: str, states: tuple[str, ...], templates: tuple[str, ...]) -> list[str]:
    return compose(class_phrase(category), states, templates)


def normal_prompts(category: str, prompt_set: str) -> list[str]:
    """The normal-state sentences of one class (OCT and APG share OCT's; CPE uses WinCLIP's)."""
    if prompt_set == "cpe":
        return _sentences(category, NORMAL_STATES, WINCLIP_TEMPLATES)
    if prompt_set in ("oct", "apg"):
        return _sentences(category, NORMAL_STATES, OCT_TEMPLATES)
    raise ValueError(f"prompt set {prompt_set!r} has no normal prompts; use one of {PROMPT_SETS[:-1]}")


def anomalous_prompts(category: str, prompt_set: str) -> list[str]:
    """The abnormal sentences the contrastive variants (CPE, APG) push synthetic anomalies towards; none for OCT."""
    if prompt_set == "cpe":
        return _sentences(category, ANOMALOUS_STATES, WINCLIP_TEMPLATES)
    if prompt_set == "apg":
        return _sentences(category, GENERATED_ANOMALOUS_STATES, OCT_TEMPLATES)
    return []
