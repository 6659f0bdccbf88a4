"""Scenes of synthetic-rgbd: one textured object on a background plane, seen from above by a pin-hole camera.

The scene is built on the pixel grid (2.5-D): each category is a height field above the plane plus a colour
texture, both written in the object's own metric frame so that they turn and shift with the object. Depth is the
tilted plane's depth minus the height; the organized cloud is the depth back-projected through the pin-hole model,
as a structured-light sensor (MVTec 3D-AD's) delivers it. Pixels on near-vertical walls get no point (0, 0, 0),
like the shadowed object borders of the real scans.

Lighting is uniform (a light tent): colour shows the albedo only, not the shading of the geometry. That is a
deliberate choice: geometric-only defects (bump, dent) must be invisible in RGB and colour-only defects (stain,
color) invisible in depth, so that RGB-only and 3D-only detectors each miss some defects; a crack is both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Defect kinds: which modality each one changes.
GEOMETRIC_DEFECTS = ("bump", "dent")
COLOUR_DEFECTS = ("stain", "color")
BOTH_DEFECTS = ("crack",)
RGBD_DEFECTS = GEOMETRIC_DEFECTS + COLOUR_DEFECTS + BOTH_DEFECTS


@dataclass(frozen=True)
class Camera:
    size: int = 192  # square image side, pixels
    focal: float = 800.0  # pixels; the field of view is 12 cm wide on the plane at 0.5 m
    plane_depth: float = 0.5  # metres from the camera to the background plane

    @property
    def metres_per_pixel(self) -> float:
        return self.plane_depth / self.focal


@dataclass
class Scene:
    height: np.ndarray  # H x W metres above the plane (0 on the background)
    albedo: np.ndarray  # H x W x 3 in [0, 1]
    object_mask: np.ndarray  # H x W bool
    plane_depth: np.ndarray  # H x W metres: depth of the background plane
    local: tuple[np.ndarray, np.ndarray]  # object-frame coordinates (a, b) in metres of every pixel


def _noise(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, scale: float, count: int = 8) -> np.ndarray:
    """Smooth random field in about [-1, 1]: a sum of random plane waves of wavelengths around ``scale`` metres.

    Hand-written: a few cosines are all a procedural texture needs, and they are defined everywhere in the object
    frame, so the texture rotates with the object without resampling an image.
    """
    out = np.zeros_like(a)
    for _ in range(count):
        angle = rng.uniform(0, 2 * np.pi)
        freq = 2 * np.pi / (scale * rng.uniform(0.6, 1.6))
        out += np.cos(freq * (np.cos(angle) * a + np.sin(angle) * b) + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(count / 2)


def _spots(a, b, rng, count, radius, region):
    """A mask of ``count`` random round spots of about ``radius`` metres inside a disc of radius ``region``."""
    mask = np.zeros(a.shape, dtype=bool)
    for _ in range(count):
        r, t = region * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
        rad = radius * rng.uniform(0.7, 1.3)
        mask |= (a - r * np.cos(t)) ** 2 + (b - r * np.sin(t)) ** 2 < rad**2
    return mask


def _mix(base, other, weight):
    return base * (1 - weight[..., None]) + np.asarray(other) * weight[..., None]


# --- categories: height field and albedo in the object frame (a, b), metres -------------------------------------

def _donut(a, b, rng):
    r = np.hypot(a, b)
    height = 0.8 * np.sqrt(np.clip(0.014**2 - (r - 0.03) ** 2, 0, None))
    top = np.clip(height / 0.0112, 0, 1)
    albedo = _mix(np.array([0.80, 0.62, 0.36]), [0.55, 0.32, 0.14], top**0.7)  # golden sides, browned top
    albedo = albedo * (1 + 0.06 * _noise(a, b, rng, 0.01))[..., None]
    seeds = _spots(a, b, rng, 36, 0.0012, 0.042) & (top > 0.3)
    albedo[seeds] = [0.93, 0.88, 0.72]
    return height, albedo


def _cookie(a, b, rng):
    r = np.hypot(a, b)
    edge = np.clip((0.04 - r) / 0.004, 0, 1)
    height = 0.007 * np.sqrt(edge) * (1 + 0.05 * _noise(a, b, rng, 0.015))
    albedo = np.broadcast_to(np.array([0.85, 0.66, 0.42]), a.shape + (3,)).copy()
    albedo = albedo * (1 + 0.07 * _noise(a, b, rng, 0.008))[..., None]
    chips = _spots(a, b, rng, 11, 0.0028, 0.032)
    albedo[chips] = [0.30, 0.18, 0.10]
    return height, albedo


def _fruit(a, b, rng):
    ellipse = 1 - (a / 0.04) ** 2 - (b / 0.035) ** 2
    height = 0.028 * np.sqrt(np.clip(ellipse, 0, None))
    blush = np.clip(0.5 + 0.5 * _noise(a, b, rng, 0.05, 4), 0, 1)
    albedo = _mix(np.array([0.95, 0.72, 0.35]), [0.85, 0.30, 0.22], blush)
    albedo = albedo * (1 + 0.04 * _noise(a, b, rng, 0.004))[..., None]
    return height, albedo


def _tile(a, b, rng):
    p = 8
    rounded = 1 - ((np.abs(a) / 0.034) ** p + (np.abs(b) / 0.034) ** p) ** (1 / p)
    height = 0.006 * np.clip(rounded / 0.05, 0, 1)
    stripes = (np.floor(a / 0.006 + rng.uniform(-0.15, 0.15)) % 2).astype(float)
    albedo = _mix(np.array([0.25, 0.40, 0.70]), [0.90, 0.90, 0.85], stripes)
    albedo = albedo * (1 + 0.03 * _noise(a, b, rng, 0.01))[..., None]
    return height, albedo


def _cable(a, b, rng):
    radius, half_length = 0.009, 0.042
    along = np.clip(np.abs(a) - half_length, 0, None)  # rounded ends
    height = np.sqrt(np.clip(radius**2 - b**2 - along**2, 0, None))
    angle = np.arcsin(np.clip(b / radius, -1, 1))
    twist = np.sin(a / 0.004 + 2 * angle + rng.uniform(0, 2 * np.pi))
    albedo = _mix(np.array([0.85, 0.20, 0.15]), [0.95, 0.85, 0.30], (twist > 0.3).astype(float))
    albedo = albedo * (1 + 0.04 * _noise(a, b, rng, 0.01))[..., None]
    return height, albedo


CATEGORIES = {"donut": _donut, "cookie": _cookie, "fruit": _fruit, "tile": _tile, "cable": _cable}

BACKGROUND = np.array([0.42, 0.44, 0.42])


def make_scene(category: str, camera: Camera, rng: np.random.Generator) -> Scene:
    """A normal object of ``category`` at a random in-plane pose on a slightly tilted plane."""
    n = camera.size
    pix = (np.arange(n) - (n - 1) / 2) * camera.metres_per_pixel
    y, x = np.meshgrid(pix, pix, indexing="ij")
    angle = rng.uniform(0, 2 * np.pi)
    shift = rng.uniform(-0.005, 0.005, size=2)
    scale = 1 + rng.uniform(-0.04, 0.04)
    dx, dy = x - shift[0], y - shift[1]
    a = (np.cos(angle) * dx + np.sin(angle) * dy) / scale
    b = (-np.sin(angle) * dx + np.cos(angle) * dy) / scale
    height, albedo = CATEGORIES[category](a, b, rng)
    height = height * scale
    mask = height > 0
    background = BACKGROUND * (1 + 0.05 * _noise(x, y, rng, 0.03))[..., None]
    albedo = np.where(mask[..., None], albedo, background)
    tilt = rng.uniform(-0.03, 0.03, size=2)
    plane = camera.plane_depth + tilt[0] * x + tilt[1] * y
    return Scene(height=height, albedo=albedo, object_mask=mask, plane_depth=plane, local=(a, b))


# --- defects ---------------------------------------------------------------------------------------------------

def _defect_centre(scene: Scene, rng: np.random.Generator, margin_px: float = 12.0) -> tuple[int, int]:
    """A random object pixel at least ``margin_px`` from the object's border (and off steep walls)."""
    from scipy.ndimage import distance_transform_edt

    inside = distance_transform_edt(scene.object_mask)
    candidates = np.argwhere(inside >= min(margin_px, inside.max() * 0.6))
    r, c = candidates[rng.integers(len(candidates))]
    return int(r), int(c)


def _blob(shape, centre, rng, radius_px):
    """An irregular blob profile in [0, 1]: an elliptical Gaussian with a wobbly edge."""
    rows, cols = np.indices(shape, dtype=float)
    dr, dc = rows - centre[0], cols - centre[1]
    t = rng.uniform(0, np.pi)
    u = (np.cos(t) * dr + np.sin(t) * dc) / (radius_px * rng.uniform(0.8, 1.2))
    v = (-np.sin(t) * dr + np.cos(t) * dc) / (radius_px * rng.uniform(0.5, 0.9))
    wobble = np.clip(1 + 0.25 * _noise(dr, dc, rng, radius_px, 4), 0.6, 1.4)
    bell = np.exp(-((u**2 + v**2) * wobble) * 2.0)
    return np.clip((bell - 0.05) / 0.95, 0, 1)  # exactly zero beyond a finite distance: the defect has an edge


def apply_defect(kind: str, scene: Scene, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """Change ``scene`` in place by one defect; returns the ground-truth mask (H x W bool)."""
    centre = _defect_centre(scene, rng)
    shape = scene.height.shape
    if kind in ("bump", "dent"):
        profile = _blob(shape, centre, rng, rng.uniform(12, 18))
        amount = rng.uniform(0.0025, 0.0035) * (1 if kind == "bump" else -1)
        change = amount * profile * scene.object_mask
        scene.height = np.clip(scene.height + change, 0, None)
        return np.abs(change) > 0.1 * abs(amount)  # 0.25-0.35 mm: over twice the sensor noise
    if kind in ("stain", "color"):
        profile = _blob(shape, centre, rng, rng.uniform(12, 18))
        alpha = np.clip((profile - 0.2) / 0.3, 0, 1) * scene.object_mask
        if kind == "stain":  # dark, dirty contamination
            target = np.array([0.22, 0.20, 0.12]) * rng.uniform(0.8, 1.2)
        else:  # discolouration: a bleached or reddened patch
            target = scene.albedo * 0.45 + (np.array([0.95, 0.95, 0.9]) if rng.uniform() < 0.5 else
                                            np.array([0.75, 0.15, 0.25])) * 0.55
        scene.albedo = _mix(scene.albedo, target, 0.85 * alpha)
        return alpha > 0.5
    if kind == "crack":
        mask = _crack_mask(shape, centre, rng) & scene.object_mask
        depth = rng.uniform(0.001, 0.002)  # shallow enough that the groove keeps its points
        scene.height = np.where(mask, np.clip(scene.height - depth, 0, None), scene.height)
        scene.albedo = np.where(mask[..., None], scene.albedo * 0.35, scene.albedo)
        from scipy.ndimage import binary_dilation

        return binary_dilation(mask)
    raise ValueError(f"unknown synthetic-rgbd defect {kind!r}; known: {RGBD_DEFECTS}")


def _crack_mask(shape, centre, rng, steps: int = 30, width_px: float = 1.2) -> np.ndarray:
    """A jagged line: a random walk with a persistent direction, rasterized with a width of about 2 pixels."""
    rows, cols = np.indices(shape, dtype=float)
    heading = rng.uniform(0, 2 * np.pi)
    point = np.array(centre, dtype=float)
    mask = np.zeros(shape, dtype=bool)
    for _ in range(steps):
        heading += rng.normal(scale=0.5)
        nxt = point + 1.2 * np.array([np.sin(heading), np.cos(heading)])
        mask |= (rows - nxt[0]) ** 2 + (cols - nxt[1]) ** 2 <= width_px**2
        point = nxt
    return mask


# --- sensor ----------------------------------------------------------------------------------------------------

def render(scene: Scene, camera: Camera, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The organized cloud (H x W x 3 float32, metres, (0, 0, 0) = no point) and the RGB image (uint8)."""
    n = camera.size
    depth = scene.plane_depth - scene.height
    depth = depth + rng.normal(scale=0.0001, size=depth.shape)  # 0.1 mm sensor noise
    centre = (n - 1) / 2
    v, u = np.indices((n, n), dtype=float)
    xyz = np.stack([(u - centre) * depth / camera.focal, (v - centre) * depth / camera.focal, depth], axis=-1)
    # Near-vertical walls (height changing by more than 2.5 pixel widths per pixel) are not seen by the sensor.
    gy, gx = np.gradient(scene.height)
    steep = np.hypot(gx, gy) > 2.5 * camera.metres_per_pixel
    xyz[steep] = 0
    brightness = rng.uniform(0.95, 1.05)
    colour = scene.albedo * brightness + rng.normal(scale=0.01, size=scene.albedo.shape)
    rgb = np.clip(np.round(colour * 255), 0, 255).astype(np.uint8)
    return xyz.astype(np.float32), rgb
