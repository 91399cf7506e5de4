#!/usr/bin/env python3
"""Writes small, valid seed files for the fuzz targets into CORPUS/{gguf,safetensors,llama2c,imatrix}.

Small seeds let libFuzzer mutate every field quickly; the real models from ../shared are
added beside them by fuzz.sh.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import gguf


def gguf_seed(path: Path) -> None:
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_uint32("llama.block_count", 1)
    w.add_uint32("llama.embedding_length", 8)
    w.add_uint32("llama.attention.head_count", 2)
    w.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    w.add_bool("seed.flag", True)
    w.add_int8("seed.i8", -3)
    w.add_uint64("seed.u64", 1 << 40)
    w.add_float64("seed.f64", 0.25)
    w.add_string("seed.str", "hello")
    w.add_array("tokenizer.ggml.tokens", ["<unk>", "<s>", "</s>", "a"])
    w.add_array("tokenizer.ggml.scores", [0.0, 0.0, 0.0, -1.0])
    w.add_tensor("token_embd.weight", np.arange(32, dtype=np.float32).reshape(4, 8))
    w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def safetensors_seed(path: Path) -> None:
    tensors = {"a": ("F32", [2, 3], np.arange(6, dtype=np.float32).tobytes()),
               "b": ("BF16", [4], b"\x80\x3f" * 4),
               "c": ("U8", [3], b"\x01\x02\x03")}
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + data)


def llama2c_seed(path: Path) -> None:
    dim, hidden, layers, heads, kv_heads, vocab, seq = 8, 16, 1, 2, 1, 4, 4
    head = dim // heads
    kv_dim = dim * kv_heads // heads
    n = (vocab * dim + layers * dim + layers * dim * dim + 2 * layers * kv_dim * dim
         + layers * dim * dim + layers * dim + 3 * layers * hidden * dim + dim + seq * head)
    floats = np.linspace(-1, 1, n, dtype=np.float32)
    path.write_bytes(struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq) + floats.tobytes())
    tok = struct.pack("<i", 3)
    for score, piece in [(0.0, b"<unk>"), (0.0, b"<s>"), (0.0, b"</s>"), (-1.0, b"abc")]:
        tok += struct.pack("<fi", score, len(piece)) + piece
    path.with_suffix(".tok").write_bytes(tok)


def imatrix_seeds(directory: Path) -> None:
    """One legacy .dat (with the trailer) and one GGUF imatrix, two matrices each."""
    entries = {"blk.0.attn_q.weight": (2, [0.5, 1.0, 2.0, 4.0]), "blk.0.ffn_down.weight": (2, [3.0, 0.25])}
    raw = struct.pack("<i", len(entries))
    for name, (ncall, values) in entries.items():
        raw += struct.pack("<i", len(name)) + name.encode() + struct.pack("<ii", ncall, len(values))
        raw += np.asarray(values, dtype="<f4").tobytes()
    raw += struct.pack("<ii", 2, 8) + b"calib.txt"[:8]
    (directory / "seed.dat").write_bytes(raw)
    w = gguf.GGUFWriter(str(directory / "seed.gguf"), arch="")
    w.add_string("general.type", "imatrix")
    w.add_array("imatrix.datasets", ["calib.txt"])
    w.add_uint32("imatrix.chunk_count", 2)
    w.add_uint32("imatrix.chunk_size", 512)
    for name, (ncall, values) in entries.items():
        w.add_tensor(name + ".in_sum2", np.asarray(values, dtype=np.float32))
        w.add_tensor(name + ".counts", np.asarray([1024.0], dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main() -> None:
    corpus = Path(sys.argv[1])
    for sub in ("gguf", "safetensors", "llama2c", "imatrix"):
        (corpus / sub).mkdir(parents=True, exist_ok=True)
    gguf_seed(corpus / "gguf" / "seed.gguf")
    safetensors_seed(corpus / "safetensors" / "seed.safetensors")
    llama2c_seed(corpus / "llama2c" / "seed.bin")
    imatrix_seeds(corpus / "imatrix")


if __name__ == "__main__":
    main()
