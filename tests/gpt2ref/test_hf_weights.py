"""read_checkpoint and load_hf_gpt2 on real files in Hugging Face's format.

tests/reference/test_model_vs_hf.py checks load_hf_gpt2 on in-memory state dicts; these
tests go through files written by ``save_pretrained`` (and rewritten the way the Hub's
GPT-2 file looks), read back by Hugging Face itself as the independent side.
"""

from __future__ import annotations

import pytest
import torch

from course.pretrained import make_standin_checkpoint
from gpt2ref import GPT2_SMALL, TINY, CheckpointError, GPTConfig, GPTModel, load_hf_gpt2, read_checkpoint
from gpt2ref.hf_weights import course_to_hf_name, hf_to_course_name

transformers = pytest.importorskip("transformers")
transformers.utils.logging.set_verbosity_error()
safetensors_torch = pytest.importorskip("safetensors.torch")

WIDER = GPTConfig(vocab_size=131, context_length=24, d_model=64, num_heads=8, num_layers=3, dropout=0.0)
CONV1D_WEIGHTS = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def max_logit_difference(ours: GPTModel, hf, config: GPTConfig, seed: int = 0) -> float:
    idx = torch.randint(0, config.vocab_size, (2, config.context_length), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return (ours.eval()(idx) - hf.eval()(idx).logits).abs().max().item()


# --- read_checkpoint ---------------------------------------------------------------------


def test_read_checkpoint_returns_every_tensor_of_the_file(tmp_path):
    tensors = {"a.weight": torch.randn(4, 3), "b": torch.arange(5, dtype=torch.float32), "c": torch.zeros(1, 1, 2, 2)}
    path = tmp_path / "x.safetensors"
    safetensors_torch.save_file(tensors, path)
    got = read_checkpoint(path)
    assert sorted(got) == sorted(tensors)
    for name, value in tensors.items():
        assert torch.equal(got[name], value), name


@pytest.mark.parametrize(
    "content",
    [
        b"version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 548105171\n",  # a Git LFS pointer
        b"",
        b"\x00" * 7,
    ],
)
def test_unreadable_file_is_reported_with_its_path(tmp_path, content):
    path = tmp_path / "model.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="model.safetensors"):
        read_checkpoint(path)


def test_truncated_file_is_reported(tmp_path):
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file({"w": torch.randn(64, 64)}, path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match=str(path.name)):
        read_checkpoint(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_checkpoint(tmp_path / "nothing.safetensors")


# --- files written by save_pretrained / shaped like the Hub's ------------------------------


@pytest.mark.parametrize("config", [TINY, WIDER], ids=["tiny", "wider"])
@pytest.mark.parametrize("hub_style", [False, True], ids=["save_pretrained", "hub-style"])
def test_loaded_file_gives_hugging_face_logits(tmp_path, config, hub_style):
    path = make_standin_checkpoint(tmp_path, config, seed=5, hub_style=hub_style)
    keys = set(safetensors_torch.load_file(path))
    if hub_style:
        assert "wte.weight" in keys and "h.0.attn.bias" in keys
    else:
        assert "transformer.wte.weight" in keys and "transformer.h.0.attn.bias" not in keys
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path)  # Hugging Face reads the same file
    ours = load_hf_gpt2(GPTModel(config), read_checkpoint(path))
    assert ours.lm_head.weight is ours.tok_embed.weight
    assert max_logit_difference(ours, hf, config) < 1e-4


def test_conv1d_weights_arrive_transposed_and_compute_the_same(tmp_path):
    path = make_standin_checkpoint(tmp_path, WIDER, seed=1)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path)
    ours = load_hf_gpt2(GPTModel(WIDER), read_checkpoint(path))
    pairs = {
        "attn.c_attn": ours.blocks[1].attn.qkv,
        "attn.c_proj": ours.blocks[1].attn.proj,
        "mlp.c_fc": ours.blocks[1].ff.fc,
        "mlp.c_proj": ours.blocks[1].ff.proj,
    }
    for hf_name, linear in pairs.items():
        conv1d = hf.transformer.h[1].get_submodule(hf_name)
        assert torch.equal(linear.weight, conv1d.weight.t()), hf_name
        x = torch.randn(3, conv1d.weight.shape[0])
        with torch.no_grad():
            torch.testing.assert_close(linear(x), conv1d(x), atol=1e-6, rtol=0)


def test_file_of_another_size_is_reported_and_nothing_loaded(tmp_path):
    path = make_standin_checkpoint(tmp_path, WIDER, seed=2)
    model = GPTModel(TINY)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        load_hf_gpt2(model, read_checkpoint(path))
    message = str(info.value)
    assert "transformer.wte.weight" in message and "(131, 64)" in message
    assert "transformer.h.2.ln_1.weight" in message and "unknown" in message  # TINY has 2 blocks
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), f"{name} changed although loading failed"


def test_tied_model_refuses_a_different_lm_head():
    hf = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=97, n_positions=16, n_embd=32, n_layer=2, n_head=4, tie_word_embeddings=False)
    )
    state = hf.state_dict()
    assert not torch.equal(state["lm_head.weight"], state["transformer.wte.weight"])
    with pytest.raises(CheckpointError, match="lm_head.weight"):
        load_hf_gpt2(GPTModel(TINY), state)


# --- the name table, at GPT-2 small's real shapes (meta tensors: no memory) ---------------------


def gpt2_small_hub_shapes() -> dict[str, torch.Size]:
    with torch.device("meta"):
        hf = transformers.GPT2LMHeadModel(transformers.GPT2Config())
    return {key.removeprefix("transformer."): value.shape for key, value in hf.state_dict().items()}


def test_every_gpt2_small_key_maps_to_one_course_parameter_of_the_right_shape():
    with torch.device("meta"):
        ours = GPTModel(GPT2_SMALL)
    course_shapes = {name: value.shape for name, value in ours.state_dict().items()}
    hub = gpt2_small_hub_shapes()
    assert len(hub) == 2 + 12 * 12 + 2 + 1  # wte, wpe, 12 per block, ln_f, lm_head
    targets = set()
    for key, shape in hub.items():
        mapped = hf_to_course_name(key)
        assert mapped is not None, key
        name, transpose = mapped
        assert transpose == key.endswith(CONV1D_WEIGHTS), key
        expected = torch.Size(reversed(shape)) if transpose else shape
        assert course_shapes[name] == expected, key
        targets.add(name)
    assert targets == set(course_shapes)
    assert hf_to_course_name("h.0.attn.bias") is None and hf_to_course_name("h.0.attn.masked_bias") is None
    assert hf_to_course_name("score.weight") is None


def test_course_names_map_back_to_hub_keys():
    with torch.device("meta"):
        ours = GPTModel(GPT2_SMALL)
    for name in ours.state_dict():
        if name != "lm_head.weight":
            assert hf_to_course_name(course_to_hf_name(name))[0] == name, name
    assert course_to_hf_name("blocks.11.ff.proj.weight") == "h.11.mlp.c_proj.weight"
    assert course_to_hf_name("final_norm.bias") == "ln_f.bias"


def test_gpt2_small_shaped_state_dict_loads_on_the_meta_device():
    with torch.device("meta"):
        hf = transformers.GPT2LMHeadModel(transformers.GPT2Config())
        ours = GPTModel(GPT2_SMALL)
    state = {k.removeprefix("transformer."): v for k, v in hf.state_dict().items() if k != "lm_head.weight"}
    load_hf_gpt2(ours, state)  # raises if a single name or shape did not fit
    assert ours.lm_head.weight is ours.tok_embed.weight


def test_loaded_conv1d_weights_keep_the_checkpoint_layout_but_not_its_memory():
    hf = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=97, n_positions=16, n_embd=32, n_layer=2, n_head=4))
    state = hf.state_dict()
    ours = load_hf_gpt2(GPTModel(TINY), state)
    qkv = ours.blocks[0].attn.qkv.weight
    source = state["transformer.h.0.attn.c_attn.weight"]  # (in, out)
    assert qkv.shape == (96, 32) and torch.equal(qkv, source.t())
    assert qkv.t().is_contiguous(), "stored like the checkpoint: (in, out) in memory, seen as (out, in)"
    with torch.no_grad():
        source.add_(1.0)  # the checkpoint changes afterwards ...
    assert not torch.equal(qkv, source.t()), "... the model must hold its own copy"
    assert ours.blocks[0].ff.fc.weight.t().is_contiguous() and ours.blocks[1].attn.proj.weight.t().is_contiguous()
    assert ours.final_norm.weight.is_contiguous() and ours.tok_embed.weight.is_contiguous()
