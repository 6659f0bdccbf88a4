"""How numbers read on the site and in the terminal views: percent for metrics, significant digits for the rest.

Every formatter takes None (or NaN) for "not measured" and returns "" for it, so a missing optional field never
shows as "None" or "nan".
"""

from __future__ import annotations

import math
import re
from typing import Any


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None, std: float | None = None) -> str:
    """A metric in percent with one decimal; ``± std`` only when the seeds differ (identical seeds show no ± 0.0)."""
    if missing(value):
        return ""
    text = f"{100 * value:.1f}"
    if not missing(std) and std > 0:
        spread = f"{100 * std:.1f}"
        text += f" ± {spread}" if spread != "0.0" else " ± <0.1"
    return text


def sig(value: float | None, digits: int = 3) -> str:
    """A measurement with ``digits`` significant digits, no trailing zeros and no exponent for everyday sizes:
    0.025 -> "0.025", 2.5 -> "2.5", 1234.5 -> "1234"."""
    if missing(value):
        return ""
    value = float(value)
    if abs(value) >= 10 ** digits:
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def count(value: float | None) -> str:
    """A large count with a unit prefix: 1_500_000 -> "1.5M"."""
    if missing(value):
        return ""
    value = float(value)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}"


def size_bytes(value: float | None) -> str:
    if missing(value):
        return ""
    value = float(value)
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:.3g} {unit}"
    return f"{value:.0f} B"


def interval(lo: float | None, hi: float | None) -> str:
    """A 95 % interval in percent as text, e.g. "95% CI 79.2–82.8"."""
    if missing(lo) or missing(hi):
        return ""
    return f"95% CI {100 * lo:.1f}–{100 * hi:.1f}"


def delta(value: float | None) -> str:
    """A difference in percentage points with its sign."""
    if missing(value):
        return ""
    return f"{100 * value:+.1f}"


def metric_about(name: str) -> str:
    """What a metric name measures, in words; says which AU-PRO computation an ``aupro@...`` name is."""
    from benchkit.metrics import parse_aupro

    plain = {"i_auroc": "object-level AUROC", "i_aupr": "object-level average precision",
             "p_auroc": "pixel/point-level AUROC", "p_aupr": "pixel/point-level average precision"}
    if name in plain:
        return plain[name]
    try:
        parsed = parse_aupro(name)
    except ValueError:
        parsed = None
    if parsed is None:
        return name
    what = f"AU-PRO up to FPR {parsed.limit:g}"
    if parsed.count is None:
        return f"{what}; exact (every threshold; benchkit's computation)"
    return f"{what}; legacy: the quantile-threshold utility of the papers' code with {parsed.count} thresholds"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str) -> str:
    """A file-name-safe form of ``text``; a short digest keeps names that differ only in unsafe characters apart."""
    import hashlib

    clean = _UNSAFE.sub("-", text).strip("-.") or "x"
    if clean != text:
        clean = f"{clean[:60]}-{hashlib.sha1(text.encode()).hexdigest()[:6]}"
    return clean
