"""lowbit quantize --imatrix: with --method rtn, lowbit writes llama-quantize's exact bytes
for the same importance matrix in every format whose ggml quantizer weighs one, the preset
rules that depend on an imatrix apply, every tensor's note says whether the matrix was
used, and the file records it as llama-quantize does."""
import hashlib
import struct

import numpy as np
import gguf

from oracle import lowbit, run_tests, shared
import preset_model

# sha256 over (name, bytes) of every tensor, in name order (llama-quantize writes them by
# layer), of the file llama-quantize (llama.cpp c392e50) wrote from the same inputs:
#   llama-quantize --pure --imatrix fixed.dat synthetic.gguf out.gguf TYPE
# with synthetic.gguf from preset_model.py and fixed.dat from fixed_imatrix() below (the
# token embedding has no entry, so it is quantized unweighted on both sides).
GOLDEN = {
    "Q4_0": "aabd4df25e5c341ca1969a4ebb675d13772dff6d47129ea70b6e5ea7a183ce37",
    "Q4_1": "a0f1310c0fef6680d861462746f6e9468a0fea0156c2167b874b870219eb7df5",
    "Q5_0": "daeb096eaf9143781b58af10913080d3c35a992fab4567b238d78220d507498b",
    "Q5_1": "9a51ea53449ab6a8d97df340066af8076da012ab9bea63a5e1fe086e86b82f7d",
    "IQ4_NL": "5a0e025825879030f011f3da23a9b31d7fc583c34dcffca90eb7fca521495511",
    "Q2_K": "20506ed42bd61bf858e0747f1012298e4701463b82ea0f080e8a4ddf65295702",
    "Q3_K": "a6c0ad860c5764a97186f80020059fefa0427d50afb0c4ab0cac81f937f930d7",
    "Q4_K": "eff3ef2770797b538cf6555e4255af337e1a6910d1035d6fafb5be8970ea1593",
    "Q5_K": "7aa9121f666ca42af113efc24275538e7e7aea68bb46dea90cbd4c35bf8a14ab",
    "Q6_K": "66c613de0e129ae54cbefe6ca0417992a4436883248dbdbebe9a2b0232ae238b",
}
# The whole Q2_K_S preset (llama-quantize refuses it without an imatrix), not --pure:
#   llama-quantize --imatrix fixed.dat synthetic.gguf out.gguf Q2_K_S
GOLDEN_Q2_K_S = "991c8635aadeb86d12f449c58326012dc02a5ea9df89c97b7850cb8a2468017f"


def fixed_imatrix(model, out):
    """A legacy .dat with seeded gamma-distributed weights for every layer matrix."""
    reader = gguf.GGUFReader(str(model))
    rng = np.random.default_rng(7)
    entries = [(t.name, (rng.gamma(2.0, 1.0, int(t.shape[0])) * 10).astype("<f4"))
               for t in reader.tensors if t.name.startswith("blk.") and len(t.shape) == 2]
    raw = struct.pack("<i", len(entries))
    for name, values in entries:
        raw += struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", 10, len(values)) + values.tobytes()
    out.write_bytes(raw + struct.pack("<ii", 10, 4) + b"test")


def inputs(tmp):
    model = tmp / "synthetic.gguf"
    preset_model.write(model, shared("models/stories260K/stories260K-f32.gguf"))
    dat = tmp / "fixed.dat"
    fixed_imatrix(model, dat)
    return model, dat


def digest(path):
    h = hashlib.sha256()
    for t in sorted(gguf.GGUFReader(str(path)).tensors, key=lambda t: t.name):
        h.update(t.name.encode())
        h.update(np.asarray(t.data).tobytes())
    return h.hexdigest()


def test_rtn_bytes_equal_llama_quantize(tmp):
    model, dat = inputs(tmp)
    for qtype, golden in GOLDEN.items():
        out = tmp / f"{qtype}.gguf"
        proc = lowbit("quantize", model, out, qtype, "--pure", "--method", "rtn", "--imatrix", dat)
        assert "blk.0.attn_q.weight: imatrix: weighted rtn" in proc.stderr, proc.stderr
        assert "token_embd.weight: imatrix: no entry" in proc.stderr, proc.stderr
        assert digest(out) == golden, qtype
        # And without the matrix the bytes differ (the weights do something).
        lowbit("quantize", model, tmp / "plain.gguf", qtype, "--pure", "--method", "rtn")
        assert digest(tmp / "plain.gguf") != golden
        fields = gguf.GGUFReader(str(out)).fields
        assert bytes(fields["quantize.imatrix.file"].parts[-1]).decode() == str(dat)
        assert bytes(fields["quantize.imatrix.dataset"].parts[-1]).decode() == "test"
        assert int(fields["quantize.imatrix.entries_count"].parts[-1][0]) == 56
        assert int(fields["quantize.imatrix.chunks_count"].parts[-1][0]) == 10


def test_q2_k_s_needs_and_takes_an_imatrix(tmp):
    model, dat = inputs(tmp)
    out = tmp / "q2ks.gguf"
    lowbit("quantize", model, out, "Q2_K_S", "--method", "rtn", "--imatrix", dat)
    assert digest(out) == GOLDEN_Q2_K_S


# ggml's weights per format (quantize_row_*_impl): importance * sqrt(sigma2 + x^2), sigma2
# = factor * the mean square over `span` weights (0: the row); Q6_K the importance alone.
OBJECTIVE = {"Q4_0": (0, 1), "Q4_1": (0, 1), "IQ4_NL": (32, 2), "Q3_K": (256, 2), "Q4_K": (256, 2), "Q6_K": (256, 0)}


def objective_weights(qtype, x, importance):
    span, factor = OBJECTIVE[qtype]
    if factor == 0:
        return np.broadcast_to(importance, x.shape)
    span = span or x.shape[1]
    blocks = x.reshape(x.shape[0], -1, span).astype(np.float64)
    sigma2 = factor * (blocks ** 2).mean(axis=2, keepdims=True)
    return (importance.reshape(1, -1, span) * np.sqrt(sigma2 + blocks ** 2)).reshape(x.shape)


def test_search_improves_on_the_weighted_objective(tmp):
    """search with an imatrix starts from llama-quantize's weighted encoding and keeps a
    block only where it lowers the weighted error ggml's quantizer aims at: in total over
    the model that error is strictly lower than rtn's (= llama-quantize's)."""
    model, dat = inputs(tmp)
    reader = gguf.GGUFReader(str(model))
    f32 = {t.name: np.asarray(t.data, dtype=np.float32).reshape(-1, int(t.shape[0])) for t in reader.tensors}
    raw = dat.read_bytes()
    imp = {}
    pos = 4
    for _ in range(struct.unpack_from("<i", raw, 0)[0]):
        (n,) = struct.unpack_from("<i", raw, pos); pos += 4
        name = raw[pos:pos + n].decode(); pos += n
        calls, m = struct.unpack_from("<ii", raw, pos); pos += 8
        imp[name] = np.frombuffer(raw, dtype="<f4", count=m, offset=pos) / calls; pos += 4 * m
    for qtype in ("Q4_0", "Q4_1", "IQ4_NL", "Q3_K", "Q4_K", "Q6_K"):
        errors = {}
        for method in ("rtn", "search"):
            out = tmp / f"{qtype}-{method}.gguf"
            proc = lowbit("quantize", model, out, qtype, "--pure", "--method", method, "--imatrix", dat)
            if method == "search":
                assert "imatrix: weighted search" in proc.stderr, proc.stderr
            total = 0.0
            for t in gguf.GGUFReader(str(out)).tensors:
                if t.name not in imp:
                    continue
                y = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).reshape(f32[t.name].shape)
                x = f32[t.name]
                total += float((((y - x) ** 2) * objective_weights(qtype, x, imp[t.name])).sum())
            errors[method] = total
        assert errors["search"] < errors["rtn"], (qtype, errors)


def test_preset_rules_and_notes(tmp):
    model, dat = inputs(tmp)
    plan = lowbit("quantize", model, tmp / "x.gguf", "Q4_0", "--imatrix", dat, "--dry-run").stdout
    # llama-quantize with an imatrix moves the first eighth of ffn_down to Q4_1 (as it did
    # here: output.weight Q6_K, blk.0.ffn_down.weight Q4_1, every other matrix Q4_0).
    rows = {line.split()[0]: line for line in plan.splitlines() if ".weight" in line}
    assert rows["blk.0.ffn_down.weight"].split()[4] == "Q4_1"
    assert rows["blk.1.ffn_down.weight"].split()[4] == "Q4_0"
    assert "weighted rtn" in rows["blk.0.ffn_down.weight"]
    assert "takes no weights" not in rows["blk.1.attn_v.weight"] and "weighted rtn" in rows["blk.1.attn_v.weight"]
    q8 = lowbit("quantize", model, tmp / "y.gguf", "Q8_0", "--imatrix", dat, "--dry-run").stdout
    assert "Q8_0 takes no weights" in q8
    searched = lowbit("quantize", model, tmp / "z.gguf", "Q4_0", "--pure", "--method", "search", "--imatrix", dat,
                      "--dry-run").stdout
    assert "imatrix: weighted search" in searched
    hqq = lowbit("quantize", model, tmp / "h.gguf", "Q4_1", "--pure", "--method", "hqq", "--imatrix", dat,
                 "--dry-run").stdout
    assert "imatrix: weighted hqq" in hqq
    excluded = lowbit("quantize", model, tmp / "w.gguf", "Q4_0", "--pure", "--imatrix", dat, "--exclude-weights",
                      "ffn_", "--dry-run").stdout
    rows = {line.split()[0]: line for line in excluded.splitlines() if ".weight" in line}
    assert "left out" in rows["blk.3.ffn_up.weight"] and "weighted rtn" in rows["blk.3.attn_q.weight"]
    lowbit("quantize", model, tmp / "v.gguf", "Q4_0", "--include-weights", "a", "--exclude-weights", "b",
           "--imatrix", dat, expect=1)


def test_mismatched_imatrix_is_an_error(tmp):
    model, _ = inputs(tmp)
    bad = tmp / "bad.dat"
    name = b"blk.0.attn_q.weight"
    bad.write_bytes(struct.pack("<i", 1) + struct.pack("<i", len(name)) + name + struct.pack("<ii", 1, 3)
                    + np.ones(3, dtype="<f4").tobytes())
    proc = lowbit("quantize", model, tmp / "x.gguf", "Q4_0", "--imatrix", bad, expect=2)
    assert "bad.dat" in proc.stderr and "columns" in proc.stderr, proc.stderr
    assert not (tmp / "x.gguf").exists()


if __name__ == "__main__":
    run_tests([test_rtn_bytes_equal_llama_quantize, test_q2_k_s_needs_and_takes_an_imatrix,
               test_search_improves_on_the_weighted_objective, test_preset_rules_and_notes,
               test_mismatched_imatrix_is_an_error])
