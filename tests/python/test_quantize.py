#!/usr/bin/env python3
"""`lowbit quantize` checked against llama.cpp's own `gguf` package.

- With --method rtn, every format gguf-py can quantize must come out byte-identical to
  gguf.quants.quantize (which mirrors ggml's reference quantizers).
- For every format and every method, gguf.quants.dequantize of lowbit's bytes must equal
  lowbit's own dequantizer (run through `lowbit convert --type f32`), and be close to the
  source weights.
- A quantize killed with SIGKILL while writing leaves nothing in the output directory.
"""
import os
import signal
import subprocess
import time

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

from oracle import CLI, lowbit, model_file, run_tests

RTN_ORACLE = [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.TQ1_0, Q.TQ2_0]
ALL_FORMATS = RTN_ORACLE + [Q.IQ4_NL, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K]
# Relative RMS error bounds on these LLM-like weights: rtn's measured worst tensor + ~10%.
BOUNDS = {Q.Q8_0: 0.0105, Q.Q6_K: 0.03, Q.Q5_0: 0.075, Q.Q5_1: 0.051, Q.Q5_K: 0.05, Q.Q4_0: 0.143,
          Q.Q4_1: 0.116, Q.Q4_K: 0.095, Q.IQ4_NL: 0.113, Q.Q3_K: 0.195, Q.Q2_K: 0.35,
          Q.TQ1_0: 0.80, Q.TQ2_0: 0.80}


def llm_like(rows, cols, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((rows, cols)).astype(np.float32) * 0.02
    tails = rng.random((rows, cols)) < 0.01
    w[tails] = (rng.standard_t(4, tails.sum()) * 0.05).astype(np.float32)
    w[:, rng.choice(cols, 3, replace=False)] *= 10
    return w


def write_model(path):
    weights = {"token_embd.weight": llm_like(64, 512, 1), "blk.0.attn_q.weight": llm_like(512, 512, 2),
               "blk.0.ffn_up.weight": llm_like(96, 512, 3), "output_norm.weight": np.ones(512, np.float32)}
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(1)
    w.add_embedding_length(512)
    w.add_head_count(8)
    for name, a in weights.items():
        w.add_tensor(name, a)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return weights


def quantized(path, qtype):
    return {t.name: t for t in gguf.GGUFReader(str(path)).tensors if t.tensor_type == qtype}


def test_rtn_is_byte_identical_to_gguf_py(tmp):
    weights = write_model(tmp / "f32.gguf")
    for qtype in RTN_ORACLE:
        out = tmp / f"{qtype.name}.gguf"
        lowbit("quantize", tmp / "f32.gguf", out, qtype.name, "--pure", "--method", "rtn")
        got = quantized(out, qtype)
        assert set(got) == set(weights) - {"output_norm.weight"}, (qtype.name, set(got))
        for name, t in got.items():
            want = gguf.quants.quantize(weights[name], qtype)
            assert np.array_equal(np.asarray(t.data).reshape(-1), want.reshape(-1)), (qtype.name, name)


REFERENCE_WEIGHTED = {"IQ4_NL", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"}


def test_every_method_decodes_like_gguf_py(tmp):
    weights = write_model(tmp / "f32.gguf")
    for qtype in ALL_FORMATS:
        rtn_err = {}
        for method in ["rtn", "hqq", "search", "absmean", None]:
            out = tmp / f"{qtype.name}-{method}.gguf"
            args = ["quantize", tmp / "f32.gguf", out, qtype.name, "--pure"] + (["--method", method] if method else [])
            lowbit(*args)
            back = tmp / f"{qtype.name}-{method}-f32.gguf"
            lowbit("convert", out, back, "--type", "f32")
            ours = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(str(back)).tensors}
            for name, t in quantized(out, qtype).items():
                theirs = gguf.quants.dequantize(np.asarray(t.data), qtype).reshape(weights[name].shape)
                assert np.array_equal(theirs, ours[name].reshape(theirs.shape)), (qtype.name, method, name)
                err = np.linalg.norm(theirs - weights[name]) / np.linalg.norm(weights[name])
                print(f"  {qtype.name:7} {str(method):8} {name:22} rel err {err:.4f}")
                assert err < BOUNDS[qtype], (qtype.name, method, name, err)
                if method == "rtn":
                    rtn_err[name] = err
                elif method == "search" and qtype.name not in REFERENCE_WEIGHTED:
                    # never worse than rtn on L2, block by block (the K-quants' and IQ4_NL's
                    # search minimises their reference's weighted error instead)
                    assert err <= rtn_err[name] * (1 + 1e-5), (qtype.name, name, err, rtn_err[name])


def test_dry_run_reports_exact_size(tmp):
    write_model(tmp / "f32.gguf")
    proc = lowbit("quantize", tmp / "f32.gguf", tmp / "never.gguf", "Q4_K", "--dry-run")
    assert not (tmp / "never.gguf").exists()
    size = int(proc.stdout.split("output: ")[1].split(" bytes")[0])
    lowbit("quantize", tmp / "f32.gguf", tmp / "real.gguf", "Q4_K")
    assert size == (tmp / "real.gguf").stat().st_size


def test_bad_requests_fail_cleanly(tmp):
    write_model(tmp / "f32.gguf")
    lowbit("quantize", tmp / "f32.gguf", tmp / "x.gguf", "Q9_9", expect=1)  # a usage error
    lowbit("quantize", tmp / "f32.gguf", tmp / "x.gguf", "Q4_K", "--method", "magic", expect=1)
    lowbit("quantize", tmp / "missing.gguf", tmp / "x.gguf", "Q4_K", expect=2)
    assert not (tmp / "x.gguf").exists()


def open_files_under(pid, directory):
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith(str(directory) + "/"):
            found.append(target)
    return found


def test_sigkill_leaves_no_file(tmp):
    out = tmp / "out"
    out.mkdir()
    src = model_file("SmolLM2-135M-Instruct.Q4_1.gguf")
    proc = subprocess.Popen([CLI, "quantize", str(src), str(out / "q.gguf"), "Q4_K", "--method", "search",
                             "--allow-requantize"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Kill it only once its output is open, whatever the machine's speed.
        deadline = time.monotonic() + 60
        while not open_files_under(proc.pid, out):
            assert proc.poll() is None, f"quantize exited ({proc.returncode}) before its output was open"
            assert time.monotonic() < deadline, "quantize never opened its output"
            time.sleep(0.01)
        time.sleep(0.5)
        assert proc.poll() is None, "quantize finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    assert sorted(os.listdir(out)) == [], sorted(os.listdir(out))


if __name__ == "__main__":
    run_tests([test_rtn_is_byte_identical_to_gguf_py, test_every_method_decodes_like_gguf_py,
               test_dry_run_reports_exact_size, test_bad_requests_fail_cleanly, test_sigkill_leaves_no_file])
