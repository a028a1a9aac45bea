"""Bridges to other tools of the field (optional dependencies, imported on use).

- `mfnn.interop.transformer_lens`: `to_hooked_transformer` / `from_hooked_transformer` (extra `mfnn[tl]`).
"""
