#!/usr/bin/env python3
"""lowbit's forward pass against an independent PyTorch reference.

For each architecture variant a small random model is written here as a Hugging Face
checkpoint (config.json + model.safetensors), converted by `lowbit convert`, and run
by `lowbit logits`, both from the GGUF and straight from the checkpoint directory. The reference follows Hugging Face's modelling code (rotate_half
RoPE on the checkpoint's own Q/K order, repeat_kv for GQA) in float64, so it also
checks the Q/K permutation lowbit applies when converting. Run with Debian's python3,
which has torch.
"""
import json
import struct

import numpy as np
import torch

from oracle import lowbit, run_tests

TOKENS = [1, 7, 3, 250, 11, 0, 42, 99, 5, 5, 17, 200, 63, 8, 129, 77]
TOLERANCE = 1e-4  # relative Frobenius error of the logits


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def random_model(cfg, seed):
    rng = np.random.default_rng(seed)
    d, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = cfg.get("head_dim", d // cfg["num_attention_heads"])
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    bias = cfg.get("attention_bias", False) or cfg["model_type"] == "qwen2"

    def w(*shape, scale=None):
        scale = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    t = {"model.embed_tokens.weight": w(v, d, scale=1.0), "model.norm.weight": 1 + w(d, scale=0.1)}
    if not cfg.get("tie_word_embeddings", False):
        t["lm_head.weight"] = w(v, d)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = 1 + w(d, scale=0.1)
        t[p + "post_attention_layernorm.weight"] = 1 + w(d, scale=0.1)
        t[p + "self_attn.q_proj.weight"] = w(q, d)
        t[p + "self_attn.k_proj.weight"] = w(kv, d)
        t[p + "self_attn.v_proj.weight"] = w(kv, d)
        t[p + "self_attn.o_proj.weight"] = w(d, q)
        if bias:
            t[p + "self_attn.q_proj.bias"] = w(q, scale=0.5)
            t[p + "self_attn.k_proj.bias"] = w(kv, scale=0.5)
            t[p + "self_attn.v_proj.bias"] = w(kv, scale=0.5)
        if cfg["model_type"] == "qwen3":
            t[p + "self_attn.q_norm.weight"] = 1 + w(hd, scale=0.1)
            t[p + "self_attn.k_norm.weight"] = 1 + w(hd, scale=0.1)
        t[p + "mlp.gate_proj.weight"] = w(f, d)
        t[p + "mlp.up_proj.weight"] = w(f, d)
        t[p + "mlp.down_proj.weight"] = w(d, f)
    return t


def llama3_inv_freq(inv_freq, s):
    """transformers' _compute_llama3_parameters: slow the long wavelengths by `factor`,
    keep the short ones, interpolate the band between."""
    factor, low, high = s["factor"], s["low_freq_factor"], s["high_freq_factor"]
    old_context = s["original_max_position_embeddings"]
    wavelen = 2 * np.pi / inv_freq
    scaled = torch.where(wavelen > old_context / low, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old_context / high) & (wavelen <= old_context / low)
    return torch.where(medium, smoothed, scaled)


def reference_logits(cfg, t, tokens):
    """Hugging Face's Llama/Mistral/Qwen2/Qwen3 forward pass, in float64."""
    T = {k: torch.tensor(v, dtype=torch.float64) for k, v in t.items()}
    d, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", d // nh)
    n = len(tokens)

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    inv_freq = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    pos = torch.arange(n, dtype=torch.float64)
    scaling = cfg.get("rope_scaling") or {}
    scaling_type = scaling.get("rope_type", scaling.get("type"))
    if scaling_type == "linear":
        pos = pos / scaling["factor"]
    elif scaling_type == "llama3":
        inv_freq = llama3_inv_freq(inv_freq, scaling)
    freqs = torch.outer(pos, inv_freq)
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]

    def rope(x):  # x: [n, heads, hd]; rotate_half pairs (i, i + hd/2)
        x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    h = T["model.embed_tokens.weight"][tokens]
    mask = torch.full((n, n), float("-inf"), dtype=torch.float64).triu(1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rms(h, T[p + "input_layernorm.weight"])

        def proj(name):
            y = x @ T[p + f"self_attn.{name}.weight"].T
            b = T.get(p + f"self_attn.{name}.bias")
            return y + b if b is not None else y

        q = proj("q_proj").view(n, nh, hd)
        k = proj("k_proj").view(n, nkv, hd)
        v = proj("v_proj").view(n, nkv, hd)
        if cfg["model_type"] == "qwen3":
            q = rms(q, T[p + "self_attn.q_norm.weight"])
            k = rms(k, T[p + "self_attn.k_norm.weight"])
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(nh // nkv, dim=1)
        v = v.repeat_interleave(nh // nkv, dim=1)
        att = torch.einsum("qhd,khd->hqk", q, k) / np.sqrt(hd) + mask
        o = torch.einsum("hqk,khd->qhd", att.softmax(-1), v).reshape(n, nh * hd)
        h = h + o @ T[p + "self_attn.o_proj.weight"].T
        x = rms(h, T[p + "post_attention_layernorm.weight"])
        g = torch.nn.functional.silu(x @ T[p + "mlp.gate_proj.weight"].T)
        h = h + (g * (x @ T[p + "mlp.up_proj.weight"].T)) @ T[p + "mlp.down_proj.weight"].T
    head = T.get("lm_head.weight", T["model.embed_tokens.weight"])
    return (rms(h, T["model.norm.weight"]) @ head.T).numpy()


def read_npy(path):
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY", "not a .npy file"
        major = f.read(2)[0]
        (hlen,) = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))
        header = eval(f.read(hlen).decode())  # noqa: S307 - a dict literal we wrote
        return np.frombuffer(f.read(), dtype=header["descr"]).reshape(header["shape"])


def compare(name, ours, ref):
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
    print(f"  {name}: relative error {rel:.2e}, max abs diff {np.abs(ours - ref).max():.2e}")
    assert rel < TOLERANCE, f"{name}: relative error {rel:.3e} above {TOLERANCE}"


def check(tmp, cfg, seed, threads=2, via_gguf=True):
    model_dir = tmp / "hf"
    model_dir.mkdir()
    base = {"hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 256, "rms_norm_eps": 1e-5, "max_position_embeddings": 64,
            "rope_theta": 10000.0}
    cfg = {**base, **cfg}
    (model_dir / "config.json").write_text(json.dumps(cfg))
    tensors = random_model(cfg, seed)
    write_safetensors(model_dir / "model.safetensors", tensors)
    ref = reference_logits(cfg, tensors, TOKENS)

    def logits_of(model, out):
        lowbit("logits", "-m", model, "--tokens", ",".join(map(str, TOKENS)), "-o", out, "-t", threads)
        return read_npy(out).astype(np.float64)

    compare(f"{cfg['model_type']} from the checkpoint", logits_of(model_dir, tmp / "hf.npy"), ref)
    if via_gguf:
        gguf_path = tmp / "m.gguf"
        lowbit("convert", model_dir, gguf_path)
        compare(f"{cfg['model_type']} from the GGUF", logits_of(gguf_path, tmp / "gguf.npy"), ref)


def test_llama_gqa_untied(tmp):
    check(tmp, {"model_type": "llama", "architectures": ["LlamaForCausalLM"]}, seed=1)


def test_llama_tied_one_thread(tmp):
    check(tmp, {"model_type": "llama", "tie_word_embeddings": True, "num_key_value_heads": 4}, seed=2, threads=1)


def test_llama_linear_rope_scaling(tmp):
    check(tmp, {"model_type": "llama", "rope_scaling": {"rope_type": "linear", "factor": 4.0}}, seed=3)


# Bands chosen so that head_dim 16's eight frequencies fall in all three regimes:
# wavelengths 6..63 kept, 199 interpolated, 628 and above divided by the factor.
LLAMA3_SCALING = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 256}


def test_llama3_rope_scaling(tmp):
    # Only from the checkpoint: GGUF keeps llama3 scaling as a rope_freqs.weight tensor,
    # which `lowbit convert` does not write yet.
    check(tmp, {"model_type": "llama", "rope_theta": 10000.0, "rope_scaling": LLAMA3_SCALING}, seed=7,
          via_gguf=False)


def test_mistral(tmp):
    check(tmp, {"model_type": "mistral", "num_key_value_heads": 1, "rope_theta": 1e6}, seed=4)


def test_qwen2_biases(tmp):
    check(tmp, {"model_type": "qwen2", "tie_word_embeddings": True, "rope_theta": 1e6}, seed=5)


def test_qwen3_qk_norm(tmp):
    check(tmp, {"model_type": "qwen3", "head_dim": 32, "rms_norm_eps": 1e-6}, seed=6)


if __name__ == "__main__":
    run_tests([test_llama_gqa_untied, test_llama_tied_one_thread, test_llama_linear_rope_scaling,
               test_llama3_rope_scaling, test_mistral, test_qwen2_biases, test_qwen3_qk_norm])
