"""WinCLIP's prompt ensemble: the counts, order and duplicate template of its public lists."""

from benchkit_components.prompts import ANOMALOUS_STATES, NORMAL_STATES, TEMPLATES, compose, sentences


def test_winclip_ensemble_counts_and_order():
    normal, anomalous = sentences("cable gland")
    assert (len(NORMAL_STATES), len(ANOMALOUS_STATES), len(TEMPLATES)) == (7, 4, 21)
    assert len(normal) == 147 and len(anomalous) == 84
    assert normal[0] == "a cropped photo of the cable gland."
    assert normal[21] == "a cropped photo of the flawless cable gland."  # state by state, templates inside
    assert anomalous[-1] == "a photo of a cable gland with damage for anomaly detection."
    assert TEMPLATES.count("a jpeg corrupted photo of the {}.") == 2  # listed twice in both public sources


def test_compose_takes_other_templates():
    assert compose("cookie", ("perfect {}",), ("a photo of a {}.", "a photo of the {}.")) == [
        "a photo of a perfect cookie.", "a photo of the perfect cookie."]
