"""TransformerLens bridge: mfnn's `ModularTransformer` <-> `transformer_lens.HookedTransformer`.

    hooked = to_hooked_transformer(model)            # a 1-layer, LayerNorm-free HookedTransformer
    logits, cache = hooked.run_with_cache(modular_tokens(a, b, model.p))
    logits[:, -1]                                    # == model(a, b)
    model2 = from_hooked_transformer(hooked)         # and back (an mfnn module, ready to fit)

`ModularTransformer` already uses TransformerLens's weight names and shapes (W_E, W_pos, W_Q/K/V (H, d, dh),
W_O (H, dh, d), W_in, b_in, W_out, b_out, W_U), so the bridge is a copy of tensors plus the config that
makes HookedTransformer compute the same function: one layer, no LayerNorm (normalization_type=None),
ReLU MLP, causal attention scaled by 1/sqrt(d_head), d_vocab = p + 1 (token p is "="), d_vocab_out = p,
n_ctx = 3 and zero attention/unembedding biases (mfnn's transformer has none). The mfnn model reads its
logits at the last position only; HookedTransformer computes all three positions, and its last one agrees.

Needs the optional extra: `pip install 'mfnn[tl]'` (a pinned transformer_lens that still ships
HookedTransformer; 4.x removed it in favour of TransformerBridge).
"""
from __future__ import annotations

import torch

from mfnn.errors import require
from mfnn.models.transformer import ModularTransformer

# mfnn name -> TransformerLens state-dict key (the shapes are the same)
WEIGHTS = {
    "W_E": "embed.W_E", "W_pos": "pos_embed.W_pos",
    "W_Q": "blocks.0.attn.W_Q", "W_K": "blocks.0.attn.W_K", "W_V": "blocks.0.attn.W_V", "W_O": "blocks.0.attn.W_O",
    "W_in": "blocks.0.mlp.W_in", "b_in": "blocks.0.mlp.b_in", "W_out": "blocks.0.mlp.W_out", "b_out": "blocks.0.mlp.b_out",
    "W_U": "unembed.W_U",
}
# TransformerLens parameters mfnn's transformer does not have: they must be zero (set so on export, checked on import)
ZERO_BIASES = ("blocks.0.attn.b_Q", "blocks.0.attn.b_K", "blocks.0.attn.b_V", "blocks.0.attn.b_O", "unembed.b_U")


def _transformer_lens():
    try:
        import transformer_lens
    except ImportError as e:  # the optional extra is not installed
        raise ImportError("the TransformerLens bridge needs transformer_lens: pip install 'mfnn[tl]'") from e
    return transformer_lens


def modular_tokens(a: torch.Tensor, b: torch.Tensor, p: int) -> torch.Tensor:
    """The token sequences [a, b, =] the modular transformer reads.

    Args:
        a, b: operands (M,), integers in [0, p).
        p: the modulus; token p is "=".

    Returns:
        (M, 3) tokens for HookedTransformer.
    """
    return torch.stack([a, b, torch.full_like(a, p)], dim=-1)


def hooked_config(model: ModularTransformer):
    """The `HookedTransformerConfig` that makes HookedTransformer compute `model`'s function.

    Args:
        model: an mfnn `ModularTransformer`; its sizes, dtype and device are copied.

    Returns:
        transformer_lens.HookedTransformerConfig (1 layer, no LayerNorm, ReLU, n_ctx 3, d_vocab p + 1).
    """
    tl = _transformer_lens()
    H, d, dh = model.W_Q.shape
    return tl.HookedTransformerConfig(
        n_layers=1, d_model=d, n_heads=H, d_head=dh, d_mlp=model.W_in.shape[1], d_vocab=model.p + 1,
        d_vocab_out=model.p, n_ctx=3, act_fn="relu", normalization_type=None, attn_only=False,
        positional_embedding_type="standard", attention_dir="causal", use_attn_scale=True,
        dtype=model.W_E.dtype, device=str(model.W_E.device), default_prepend_bos=False, seed=None,
    )


@torch.no_grad()
def to_hooked_transformer(model: ModularTransformer):
    """A `HookedTransformer` with `model`'s weights (copied, not shared), in eval mode.

    Args:
        model: an mfnn `ModularTransformer` (trained or not).

    Returns:
        transformer_lens.HookedTransformer whose logits[:, -1] on `modular_tokens(a, b, p)` equal model(a, b).
    """
    tl = _transformer_lens()
    require(isinstance(model, ModularTransformer), "model", f"must be a ModularTransformer (got {type(model).__name__})")
    hooked = tl.HookedTransformer(hooked_config(model))
    state = hooked.state_dict()  # keeps TransformerLens's own buffers (causal mask, IGNORE)
    for name, key in WEIGHTS.items():
        state[key] = getattr(model, name).detach().clone()
    for key in ZERO_BIASES:
        state[key] = torch.zeros_like(state[key])
    hooked.load_state_dict(state)
    return hooked.eval()


@torch.no_grad()
def from_hooked_transformer(hooked, **module_kwargs) -> ModularTransformer:
    """An mfnn `ModularTransformer` with a HookedTransformer's weights (copied).

    The HookedTransformer must be one mfnn can represent: 1 layer, no LayerNorm, ReLU MLP, standard
    positional embeddings, n_ctx = 3, d_vocab = d_vocab_out + 1, attention scaled by 1/sqrt(d_head), and zero
    b_Q, b_K, b_V, b_O and b_U (mfnn's transformer has no such biases; nonzero ones are an error, not dropped).

    Args:
        hooked: a transformer_lens.HookedTransformer.
        **module_kwargs: passed to `ModularTransformer` (optimizer, warmup_steps, compile).

    Returns:
        ModularTransformer (in hooked's dtype and device) computing the same logits at the last position.
    """
    cfg = hooked.cfg
    checks = {
        "n_layers": (cfg.n_layers, 1), "normalization_type": (cfg.normalization_type, None), "act_fn": (cfg.act_fn, "relu"),
        "positional_embedding_type": (cfg.positional_embedding_type, "standard"), "n_ctx": (cfg.n_ctx, 3),
        "d_vocab": (cfg.d_vocab, cfg.d_vocab_out + 1), "attn_only": (cfg.attn_only, False),
        "gated_mlp": (cfg.gated_mlp, False), "parallel_attn_mlp": (cfg.parallel_attn_mlp, False),
        "use_attn_scale": (cfg.use_attn_scale, True), "attn_scale": (float(cfg.attn_scale), cfg.d_head ** 0.5),
    }
    for field, (got, want) in checks.items():
        require(got == want, f"hooked.cfg.{field}", f"must be {want!r} for mfnn's modular transformer (got {got!r})")
    state = hooked.state_dict()
    for key in ZERO_BIASES:
        require(bool((state[key] == 0).all()), key, "must be zero: mfnn's modular transformer has no such bias")
    model = ModularTransformer(p=cfg.d_vocab_out, d_model=cfg.d_model, n_heads=cfg.n_heads, d_head=cfg.d_head,
                               d_mlp=cfg.d_mlp, **module_kwargs)
    model = model.to(dtype=state["embed.W_E"].dtype, device=state["embed.W_E"].device)
    for name, key in WEIGHTS.items():
        getattr(model, name).copy_(state[key])
    return model
