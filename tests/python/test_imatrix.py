"""lowbit imatrix: its GGUF file read by the PyPI gguf package (llama.cpp's own reader),
the legacy .dat format, conversions both ways through --in-file, combining, inspect,
and a clear error on a damaged file."""
import struct

import numpy as np
import gguf

from oracle import lowbit, run_tests, shared

MODEL = "models/stories260K/stories260K-f32.gguf"
TEXT = "data/tinystories-valid-sample.txt"


def compute(tmp, name, *extra):
    out = tmp / name
    proc = lowbit("imatrix", "-m", shared(MODEL), "-f", shared(TEXT), "-o", out, "-c", 128, "--chunks", 4, *extra)
    assert "Final estimate: PPL = " in proc.stdout, proc.stdout
    return out


def read_dat(path):
    b = path.read_bytes()
    (n,), o, entries = struct.unpack_from("<i", b), 4, {}
    for _ in range(n):
        (length,) = struct.unpack_from("<i", b, o)
        name = b[o + 4:o + 4 + length].decode()
        o += 4 + length
        ncall, nval = struct.unpack_from("<ii", b, o)
        entries[name] = (ncall, np.frombuffer(b, dtype="<f4", count=nval, offset=o + 8))
        o += 8 + 4 * nval
    (chunks, dlen) = struct.unpack_from("<ii", b, o)
    return entries, chunks, b[o + 8:o + 8 + dlen].decode()


def read_gguf(path):
    r = gguf.GGUFReader(str(path))
    fields = {k: f for k, f in r.fields.items()}
    assert bytes(fields["general.type"].parts[-1]).decode() == "imatrix"
    assert "general.architecture" not in fields
    datasets = [bytes(fields["imatrix.datasets"].parts[i]).decode() for i in fields["imatrix.datasets"].data]
    chunks = int(fields["imatrix.chunk_count"].parts[-1][0])
    size = int(fields["imatrix.chunk_size"].parts[-1][0])
    tensors = {t.name: t for t in r.tensors}
    entries = {}
    for name, t in tensors.items():
        if name.endswith(".in_sum2"):
            base = name[: -len(".in_sum2")]
            counts = tensors[base + ".counts"]
            assert t.tensor_type == gguf.GGMLQuantizationType.F32 and counts.tensor_type == gguf.GGMLQuantizationType.F32
            assert list(counts.shape) == [1], counts.shape
            entries[base] = (float(counts.data[0]), np.array(t.data, dtype=np.float64))
    return entries, chunks, size, datasets


def test_gguf_as_llama_cpp_reads_it(tmp):
    entries, chunks, size, datasets = read_gguf(compute(tmp, "m.gguf"))
    assert (chunks, size) == (4, 128)
    assert datasets == [str(shared(TEXT))]
    assert len(entries) == 35 and all(name.startswith("blk.") for name in entries)
    count, sums = entries["blk.0.ffn_down.weight"]
    assert count == 4 * 128 and sums.shape == (172,) and np.all(sums > 0)


def test_dat_and_gguf_agree_and_convert_both_ways(tmp):
    dat = compute(tmp, "m.dat")
    entries, chunks, dataset = read_dat(dat)
    assert chunks == 4 and dataset == str(shared(TEXT)) and len(entries) == 35
    g_entries, *_ = read_gguf(compute(tmp, "m.gguf"))
    for name, (ncall, values) in entries.items():
        assert ncall == 4, (name, ncall)  # one product per chunk
        count, sums = g_entries[name]
        np.testing.assert_allclose(values / ncall, sums / count, rtol=1e-6)
    # .dat -> GGUF -> .dat keeps every byte; the GGUF in between holds the same weights.
    lowbit("imatrix", "--in-file", dat, "-o", tmp / "c.gguf")
    lowbit("imatrix", "--in-file", tmp / "c.gguf", "-o", tmp / "back.dat")
    assert (tmp / "back.dat").read_bytes() == dat.read_bytes()
    c_entries, c_chunks, _, _ = read_gguf(tmp / "c.gguf")
    assert c_chunks == 4
    for name, (ncall, values) in entries.items():
        count, sums = c_entries[name]
        np.testing.assert_allclose(sums / count, values / ncall, rtol=1e-7)
    # --output-format overrides the extension.
    lowbit("imatrix", "--in-file", dat, "-o", tmp / "d.imatrix", "--output-format", "dat")
    assert (tmp / "d.imatrix").read_bytes() == dat.read_bytes()


def test_in_files_add_up(tmp):
    one = compute(tmp, "one.gguf")
    lowbit("imatrix", "--in-file", one, "--in-file", one, "-o", tmp / "two.gguf")
    a, _, _, _ = read_gguf(one)
    b, chunks, _, datasets = read_gguf(tmp / "two.gguf")
    assert chunks == 8 and datasets == [str(shared(TEXT))]
    for name in a:
        assert b[name][0] == 2 * a[name][0]
        np.testing.assert_allclose(b[name][1], 2 * a[name][1], rtol=1e-6)


def test_process_output_and_inspect(tmp):
    m = compute(tmp, "m.gguf", "--process-output")
    entries, *_ = read_gguf(m)
    assert len(entries) == 36 and entries["output.weight"][0] == 4 * 128  # output.weight only when asked
    text = lowbit("inspect", m).stdout
    assert "importance matrix" in text and "blk.4.ffn_down.weight" in text and "chunks:    4 of 128 tokens" in text


def test_damaged_file_is_a_clear_error(tmp):
    dat = compute(tmp, "m.dat")
    bad = tmp / "bad.dat"
    bad.write_bytes(dat.read_bytes()[:1000])
    proc = lowbit("imatrix", "--in-file", bad, "-o", tmp / "x.gguf", expect=2)
    assert "bad.dat" in proc.stderr and "truncated" in proc.stderr, proc.stderr
    assert not (tmp / "x.gguf").exists()
    proc = lowbit("imatrix", "-m", shared(MODEL), "-o", tmp / "y.gguf", expect=1)
    assert "text file" in proc.stderr, proc.stderr


if __name__ == "__main__":
    run_tests([test_gguf_as_llama_cpp_reads_it, test_dat_and_gguf_agree_and_convert_both_ways, test_in_files_add_up,
               test_process_output_and_inspect, test_damaged_file_is_a_clear_error])
