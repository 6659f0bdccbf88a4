"""clip-image and clip-text load open_clip checkpoints from $BENCHKIT_WEIGHTS, encode as their kinds promise, and
refuse what they cannot read."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchkit import DataError, MissingWeightsError, build_backbone
from benchkit_clip.plugin import WEIGHTS_FILE
from benchkit_clip.testing import register_tiny_config, write_checkpoint


@pytest.fixture
def tiny(benchkit_env, tmp_path, monkeypatch):
    name = register_tiny_config()
    weights = tmp_path / "weights"
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(weights))
    state = write_checkpoint(weights / WEIGHTS_FILE, name, seed=3)
    return name, state


def test_clip_image_loads_the_checkpoint_and_returns_projected_patch_tokens(tiny):
    name, state = tiny
    backbone = build_backbone("clip-image", model_name=name)
    assert backbone.weights == "pretrained"
    loaded = backbone.model.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    rgb = np.random.default_rng(0).integers(0, 256, size=(70, 90, 3), dtype=np.uint8)
    tokens = backbone.encode(rgb)
    assert tokens.shape == (4, 4, 32) and tokens.dtype == np.float32  # 56 px / 14 px patches, embed_dim 32
    batch = backbone.encode(np.stack([rgb, rgb[::-1]]))
    assert batch.shape == (2, 4, 4, 32) and np.allclose(batch[0], tokens, atol=1e-5)
    # the pooled embedding is open_clip's own encode_image, and the tokens are its patch tokens, projected
    x = backbone.preprocess(rgb[None])
    with torch.no_grad():
        expected = backbone.model.encode_image(x).numpy()[0]
        visual = backbone.model.visual
        seq = visual.transformer(visual._embeds(x))
        manual = (visual.ln_post(seq)[:, 1:] @ visual.proj).numpy()[0].reshape(4, 4, 32)
    assert np.allclose(backbone.encode_image(rgb), expected, atol=1e-5)
    assert np.allclose(tokens, manual, atol=1e-5)
    with pytest.raises(ValueError, match="uint8"):
        backbone.encode(rgb.astype(np.float32))


def test_clip_text_embeds_like_open_clip_without_normalising(tiny):
    import open_clip

    name, _ = tiny
    text = build_backbone("clip-text", model_name=name)
    out = text.encode(["a photo of a flawless object", "a photo of a damaged object"])
    assert out.shape == (2, 32) and not np.allclose(np.linalg.norm(out, axis=1), 1.0)
    with torch.no_grad():
        ref = text.model.encode_text(open_clip.get_tokenizer(name)(["a photo of a damaged object"])).numpy()
    assert np.allclose(out[1], ref[0], atol=1e-5)
    image = build_backbone("clip-image", model_name=name)
    assert image.model is text.model  # one loaded model serves both towers


def test_missing_weights_name_the_file_and_where_to_get_it(benchkit_env):
    with pytest.raises(MissingWeightsError) as err:
        build_backbone("clip-image")
    assert WEIGHTS_FILE in str(err.value) and "huggingface.co/timm/vit_large_patch14_clip_336.openai" in str(err.value)


def test_random_init_is_flagged_and_seeded(benchkit_env):
    name = register_tiny_config()
    a = build_backbone("clip-text", model_name=name, allow_random_init=True, seed=1)
    b = build_backbone("clip-text", model_name=name, allow_random_init=True, seed=1)
    assert a.weights == "random-init"
    assert np.allclose(a.encode(["x"]), b.encode(["x"]))


def test_a_file_that_is_not_an_open_clip_checkpoint_is_a_data_error(benchkit_env, tmp_path, monkeypatch):
    from safetensors.torch import save_file

    name = register_tiny_config()
    weights = tmp_path / "weights"
    weights.mkdir(exist_ok=True)
    monkeypatch.setenv("BENCHKIT_WEIGHTS", str(weights))
    save_file({"blocks.0.weight": torch.zeros(2, 2)}, str(weights / WEIGHTS_FILE))
    with pytest.raises(DataError, match="open_clip key layout"):
        build_backbone("clip-image", model_name=name)
