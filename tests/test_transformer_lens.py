"""TransformerLens bridge: an mfnn ModularTransformer and its HookedTransformer compute the same logits.

Needs the optional extra (pip install 'mfnn[tl]'); without transformer_lens these tests are skipped.
Tolerances: float64 models agree to 1e-10 (the two codes sum in different orders; rounding is ~1e-15 per
operation); float32 to 1e-5 as the bridge promises (logits are O(1), float32 rounding over sums of d_model
and d_mlp terms is ~1e-6).
"""
import pytest
import torch

tl = pytest.importorskip("transformer_lens", reason="needs the optional extra: pip install 'mfnn[tl]' (or make test-tl)")

from mfnn.errors import ConfigError  # noqa: E402
from mfnn.interop.transformer_lens import from_hooked_transformer, modular_tokens, to_hooked_transformer  # noqa: E402
from mfnn.models.transformer import ModularTransformer  # noqa: E402

P = 7


def all_pairs(p=P):
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    return a.flatten(), b.flatten()


def trained_model(dtype=torch.float64, steps=30) -> ModularTransformer:
    """A small model moved away from its initialisation by a few AdamW steps on the full (a + b) mod p table,
    with nonzero MLP biases (zero at init, so a bridge that dropped them would go unnoticed)."""
    torch.manual_seed(0)
    model = ModularTransformer(p=P, d_model=16, n_heads=2, d_head=8, d_mlp=32).to(dtype)
    a, b = all_pairs()
    y = (a + b) % P
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        model.per_pair_loss(model(a, b), y).mean().backward()
        opt.step()
    assert model.b_in.abs().max() > 0 and model.b_out.abs().max() > 0
    return model


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_logits_agree(dtype, tol):
    model = trained_model(dtype)
    hooked = to_hooked_transformer(model)
    a, b = all_pairs()
    with torch.no_grad():
        ours, theirs = model(a, b), hooked(modular_tokens(a, b, P))[:, -1]
    assert theirs.dtype == dtype
    assert float((ours - theirs).abs().max()) <= tol


def test_run_with_cache_exposes_the_same_internals():
    model = trained_model()
    hooked = to_hooked_transformer(model)
    a, b = all_pairs()
    logits, cache = hooked.run_with_cache(modular_tokens(a, b, P))
    with torch.no_grad():
        resid = model.residual_final(a, b)  # (M, d): the residual after attention at the last position
        torch.testing.assert_close(cache["blocks.0.hook_resid_mid"][:, -1], resid, rtol=0, atol=1e-10)
        torch.testing.assert_close(cache["blocks.0.mlp.hook_post"][:, -1], model.mlp_post(resid), rtol=0, atol=1e-10)
    pattern = cache["blocks.0.attn.hook_pattern"]  # (M, H, query, key)
    assert pattern.shape == (P * P, 2, 3, 3)
    torch.testing.assert_close(pattern.sum(-1), torch.ones(P * P, 2, 3, dtype=pattern.dtype))
    torch.testing.assert_close(logits[:, -1], model(a, b).detach(), rtol=0, atol=1e-10)


def test_round_trips():
    model = trained_model()
    back = from_hooked_transformer(to_hooked_transformer(model))
    for name, value in model.state_dict().items():
        assert torch.equal(back.state_dict()[name], value), name
    # the other way: a HookedTransformer made by TransformerLens itself, to mfnn and back
    torch.manual_seed(1)
    hooked = tl.HookedTransformer(tl.HookedTransformerConfig(
        n_layers=1, d_model=12, n_heads=3, d_head=4, d_mlp=20, d_vocab=P + 1, d_vocab_out=P, n_ctx=3, act_fn="relu",
        normalization_type=None, dtype=torch.float64, device="cpu", seed=1))
    a, b = all_pairs()
    tokens = modular_tokens(a, b, P)
    ours = from_hooked_transformer(hooked)
    with torch.no_grad():
        torch.testing.assert_close(ours(a, b), hooked(tokens)[:, -1], rtol=0, atol=1e-10)
        torch.testing.assert_close(to_hooked_transformer(ours)(tokens), hooked(tokens), rtol=0, atol=1e-10)


def test_placebo_swapped_positions_change_the_logits():
    # the agreement above is not automatic: a bridge that mixed up W_pos rows would be caught
    model = trained_model()
    hooked = to_hooked_transformer(model)
    with torch.no_grad():
        hooked.pos_embed.W_pos.copy_(hooked.pos_embed.W_pos[[1, 0, 2]])
        a, b = all_pairs()
        assert float((hooked(modular_tokens(a, b, P))[:, -1] - model(a, b)).abs().max()) > 1e-3


def test_unrepresentable_models_are_refused():
    hooked = to_hooked_transformer(trained_model())
    with torch.no_grad():
        hooked.blocks[0].attn.b_Q.add_(0.1)
    with pytest.raises(ConfigError, match="b_Q"):
        from_hooked_transformer(hooked)
    two_layers = tl.HookedTransformer(tl.HookedTransformerConfig(
        n_layers=2, d_model=8, n_heads=2, d_head=4, d_mlp=16, d_vocab=P + 1, d_vocab_out=P, n_ctx=3, act_fn="relu",
        normalization_type=None))
    with pytest.raises(ConfigError, match="n_layers"):
        from_hooked_transformer(two_layers)
    with pytest.raises(ConfigError, match="ModularTransformer"):
        to_hooked_transformer(torch.nn.Linear(2, 2))
