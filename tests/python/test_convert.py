#!/usr/bin/env python3
"""`lowbit convert` checked by an independent reader: llama.cpp's own `gguf` package.

- llama2.c stories260K -> GGUF must hold exactly the tensors and vocabulary that
  llama.cpp's converter wrote into stories260K-f32.gguf.
- A Hugging Face checkpoint written here with numpy must come out with the Q/K rows
  permuted as llama.cpp's convert_hf_to_gguf.py permutes them.
- A GGUF input's metadata comes out key for key, type for type (SmolLM2's chat
  template, license...), with only general.file_type changed to the new type.
"""
import json
import struct

import numpy as np
import gguf

from oracle import lowbit, model_file, run_tests, shared


def tensors(reader):
    return {t.name: t for t in reader.tensors}


def field(reader, key):
    return reader.fields[key].contents()


def test_llama2c_matches_llama_cpp_converter(tmp):
    out = tmp / "stories.gguf"
    model = shared("models/stories260K")
    lowbit("convert", model / "stories260K.bin", out, "--tokenizer", model / "tok512.bin")
    ours = gguf.GGUFReader(str(out))
    ref = gguf.GGUFReader(str(shared("models/stories260K/stories260K-f32.gguf")))
    ours_t, ref_t = tensors(ours), tensors(ref)
    # llama.cpp's converter stores the tied classifier as an explicit copy; lowbit leaves it
    # out (llama.cpp then uses token_embd), so every other tensor must match exactly.
    assert set(ref_t) - set(ours_t) == {"output.weight"}, set(ref_t) ^ set(ours_t)
    assert set(ours_t) <= set(ref_t)
    for name, t in ours_t.items():
        r = ref_t[name]
        assert t.tensor_type == r.tensor_type == gguf.GGMLQuantizationType.F32, name
        assert list(t.shape) == list(r.shape), (name, t.shape, r.shape)
        assert np.array_equal(np.asarray(t.data), np.asarray(r.data)), name
    assert np.array_equal(np.asarray(ref_t["output.weight"].data), np.asarray(ours_t["token_embd.weight"].data))
    for key in ["tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                "tokenizer.ggml.model", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.unknown_token_id", "general.architecture"]:
        assert field(ours, key) == field(ref, key), key
    for key in ["embedding_length", "feed_forward_length", "attention.head_count",
                "attention.head_count_kv", "block_count", "rope.dimension_count"]:
        assert field(ours, "llama." + key) == field(ref, "llama." + key), key
    assert abs(field(ours, "llama.attention.layer_norm_rms_epsilon") - 1e-5) < 1e-9
    # The real training context; llama.cpp's converter hard-codes 128.
    assert field(ours, "llama.context_length") == 512
    assert field(ours, "general.file_type") == 0


def test_llama2c_to_f16_and_bf16(tmp):
    model = shared("models/stories260K")
    ref = tensors(gguf.GGUFReader(str(shared("models/stories260K/stories260K-f32.gguf"))))
    for kind, qtype in [("f16", gguf.GGMLQuantizationType.F16), ("bf16", gguf.GGMLQuantizationType.BF16)]:
        out = tmp / f"stories-{kind}.gguf"
        lowbit("convert", model / "stories260K.bin", out, "--tokenizer", model / "tok512.bin", "--type", kind)
        for t in gguf.GGUFReader(str(out)).tensors:
            want = np.asarray(ref[t.name].data, dtype=np.float32)
            if len(t.shape) == 1:
                assert t.tensor_type == gguf.GGMLQuantizationType.F32, t.name
                assert np.array_equal(np.asarray(t.data), want), t.name
                continue
            assert t.tensor_type == qtype, t.name
            got = gguf.quants.dequantize(np.asarray(t.data), qtype).reshape(want.shape)
            expect = gguf.quants.dequantize(gguf.quants.quantize(want, qtype), qtype).reshape(want.shape)
            assert np.array_equal(got, expect), t.name  # same rounding as gguf-py (round to nearest even)


def write_safetensors(path, arrays):
    header, blobs, offset = {}, [], 0
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}[a.dtype]
        raw = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def hf_llama(tmp, model_type="llama"):
    hidden, heads, kv_heads, ffn, vocab, layers = 32, 4, 2, 48, 64, 2
    hd = hidden // heads
    rng = np.random.default_rng(7)
    arrays = {"model.embed_tokens.weight": rng.standard_normal((vocab, hidden), dtype=np.float32),
              "model.norm.weight": rng.standard_normal(hidden, dtype=np.float32),
              "lm_head.weight": rng.standard_normal((vocab, hidden), dtype=np.float32)}
    for l in range(layers):
        p = f"model.layers.{l}."
        arrays[p + "input_layernorm.weight"] = rng.standard_normal(hidden, dtype=np.float32)
        arrays[p + "post_attention_layernorm.weight"] = rng.standard_normal(hidden, dtype=np.float32)
        arrays[p + "self_attn.q_proj.weight"] = rng.standard_normal((heads * hd, hidden), dtype=np.float32)
        arrays[p + "self_attn.k_proj.weight"] = rng.standard_normal((kv_heads * hd, hidden), dtype=np.float32)
        arrays[p + "self_attn.v_proj.weight"] = rng.standard_normal((kv_heads * hd, hidden), dtype=np.float32)
        arrays[p + "self_attn.o_proj.weight"] = rng.standard_normal((hidden, heads * hd), dtype=np.float32)
        arrays[p + "mlp.gate_proj.weight"] = rng.standard_normal((ffn, hidden), dtype=np.float32)
        arrays[p + "mlp.up_proj.weight"] = rng.standard_normal((ffn, hidden), dtype=np.float32)
        arrays[p + "mlp.down_proj.weight"] = rng.standard_normal((hidden, ffn), dtype=np.float32)
        if model_type == "qwen2":
            for proj, rows in [("q", heads * hd), ("k", kv_heads * hd), ("v", kv_heads * hd)]:
                arrays[p + f"self_attn.{proj}_proj.bias"] = rng.standard_normal(rows, dtype=np.float32)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": model_type, "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
              "intermediate_size": ffn, "vocab_size": vocab, "max_position_embeddings": 256,
              "rope_theta": 500000.0, "rms_norm_eps": 1e-6, "tie_word_embeddings": False}
    d = tmp / model_type
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config))
    write_safetensors(d / "model.safetensors", arrays)
    return d, arrays, config


def llama_cpp_permute(w, n_head):
    # convert_hf_to_gguf.py's LlamaModel.permute, restated.
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def test_hf_llama_permutes_q_and_k(tmp):
    d, arrays, config = hf_llama(tmp)
    out = tmp / "hf.gguf"
    lowbit("convert", d, out)
    r = gguf.GGUFReader(str(out))
    t = tensors(r)
    for l in range(config["num_hidden_layers"]):
        p = f"model.layers.{l}.self_attn."
        q = np.asarray(t[f"blk.{l}.attn_q.weight"].data)
        k = np.asarray(t[f"blk.{l}.attn_k.weight"].data)
        v = np.asarray(t[f"blk.{l}.attn_v.weight"].data)
        assert np.array_equal(q, llama_cpp_permute(arrays[p + "q_proj.weight"], config["num_attention_heads"]))
        assert np.array_equal(k, llama_cpp_permute(arrays[p + "k_proj.weight"], config["num_key_value_heads"]))
        assert np.array_equal(v, arrays[p + "v_proj.weight"])
    assert np.array_equal(np.asarray(t["output.weight"].data), arrays["lm_head.weight"])
    assert field(r, "llama.rope.freq_base") == 500000.0
    assert field(r, "llama.attention.head_count_kv") == 2
    assert any(k.startswith("lowbit.warning") and "tokenizer" in field(r, k) for k in r.fields), \
        "the output must say that the tokenizer was not converted"


def test_hf_qwen2_is_not_permuted(tmp):
    d, arrays, _ = hf_llama(tmp, "qwen2")
    out = tmp / "qwen.gguf"
    lowbit("convert", d, out)
    r = gguf.GGUFReader(str(out))
    t = tensors(r)
    assert field(r, "general.architecture") == "qwen2"
    assert np.array_equal(np.asarray(t["blk.0.attn_q.weight"].data), arrays["model.layers.0.self_attn.q_proj.weight"])
    assert np.array_equal(np.asarray(t["blk.1.attn_k.bias"].data), arrays["model.layers.1.self_attn.k_proj.bias"])


def metadata(path):
    # Key -> (value types, value): the types tell u32 from i32 and a bool from a number.
    return {k: (list(f.types), f.contents()) for k, f in gguf.GGUFReader(str(path)).fields.items()
            if not k.startswith("GGUF.")}


def test_gguf_keeps_every_key(tmp):
    src = model_file("SmolLM2-135M-Instruct.Q4_1.gguf")
    before = metadata(src)
    for key in ("tokenizer.chat_template", "tokenizer.ggml.add_space_prefix", "general.license"):
        assert key in before, key  # the keys that were lost must be there to be kept
    assert "tokenizer.ggml.add_eos_token" not in before
    assert before["general.file_type"][1] == 3  # MOSTLY_Q4_1
    for kind, file_type in [("f32", 0), ("f16", 1)]:
        out = tmp / f"smol-{kind}.gguf"
        lowbit("convert", src, out, "--type", kind)
        after = metadata(out)
        assert set(after) == set(before), (set(after) - set(before), set(before) - set(after))
        assert after["general.file_type"] == ([gguf.GGUFValueType.UINT32], file_type)
        for key, value in before.items():
            if key != "general.file_type":
                assert after[key] == value, (key, str(after[key])[:200], str(value)[:200])
    # lowbit quantize's notes on how it made the weights go with the weights.
    q = tmp / "stories-q8.gguf"
    lowbit("quantize", shared("models/stories260K/stories260K-f32.gguf"), q, "Q8_0")
    assert "lowbit.quantize.type" in metadata(q)
    lowbit("convert", q, tmp / "back.gguf")
    back = metadata(tmp / "back.gguf")
    assert not any(k.startswith("lowbit.quantize.") for k in back), list(back)
    assert back["general.file_type"][1] == 0


def test_bad_input_exits_2(tmp):
    bad = tmp / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 8 + b"\x00" * 8)
    proc = lowbit("inspect", bad, expect=2)
    assert "bad.gguf" in proc.stderr and "tensor_count" in proc.stderr, proc.stderr
    lowbit("inspect", tmp, expect=2)  # a directory without config.json
    lowbit("convert", tmp / "missing.bin", tmp / "x.gguf", expect=2)
    assert not (tmp / "x.gguf").exists()


def test_inspect_json(tmp):
    proc = lowbit("inspect", shared("models/stories260K/stories260K-f32.gguf"), "--json")
    j = json.loads(proc.stdout)
    assert j["config"]["n_layers"] == 5 and j["config"]["n_kv_heads"] == 4
    assert j["totals"]["tensors"] == 48
    assert j["totals"]["bytes"] == 1185376 - 14176
    assert j["metadata"]["general.architecture"] == 'str "llama"'


if __name__ == "__main__":
    run_tests([test_llama2c_matches_llama_cpp_converter, test_llama2c_to_f16_and_bf16,
               test_hf_llama_permutes_q_and_k, test_hf_qwen2_is_not_permuted, test_gguf_keeps_every_key,
               test_bad_input_exits_2, test_inspect_json])
