"""llama-quantize's presets: for each, the type lowbit gives every tensor equals the type
llama-quantize gave it on the same model (golden lists in tests/data/presets/, recorded
from a llama.cpp build as each file's "recorded_with" says), on SmolLM2-135M (F32),
stories260K and a synthetic GQA model whose rows fit every block."""
import json

import gguf

from oracle import REPO, lowbit, model_file, run_tests, shared
import preset_model

GOLDEN = REPO / "tests" / "data" / "presets"


def planned_types(model, preset, *extra):
    """{tensor: (type, note)} from `lowbit quantize --dry-run`, and the planned size."""
    out = lowbit("quantize", model, model.parent / "never.gguf", preset, "--dry-run", *extra).stdout
    types, size = {}, None
    for line in out.splitlines():
        fields = line.split(None, 6)
        if len(fields) >= 5 and fields[3] == "->" and fields[0] != "tensor":
            types[fields[0]] = (fields[4], fields[6] if len(fields) > 6 else "")
        if line.startswith("output: "):
            size = int(line.split()[1])
    assert types, out
    assert not (model.parent / "never.gguf").exists()
    return types, size


def check_against_golden(model, golden_name):
    golden = json.loads((GOLDEN / golden_name).read_text())["presets"]
    assert len(golden) >= 20, golden.keys()
    for preset, want in golden.items():
        planned, _ = planned_types(model, preset)
        matrices = {name: t for name, t in planned.items() if not name.endswith("_norm.weight")}
        if "refused" in want:
            # llama-quantize gives up on rows that fit no block of the preset's types;
            # lowbit falls back to F16 and says so for each such tensor.
            assert any("not a multiple" in note for _, note in matrices.values()), (preset, want)
            continue
        for name, (got, _) in matrices.items():
            expected = want["other_types"].get(name, want["base"])
            assert got == expected, f"{golden_name} {preset}: {name} is {got}, llama-quantize wrote {expected}"
        assert set(want["other_types"]) <= set(matrices), (preset, set(want["other_types"]) - set(matrices))


def test_smollm2(tmp):
    f32 = tmp / "smol-f32.gguf"
    lowbit("convert", model_file("SmolLM2-135M-Instruct.Q4_1.gguf"), f32, "--type", "f32")
    check_against_golden(f32, "smollm2.json")


def test_stories260k(tmp):
    src = shared("models/stories260K/stories260K-f32.gguf")
    model = tmp / "stories260K-f32.gguf"
    model.write_bytes(src.read_bytes())
    check_against_golden(model, "stories260K.json")


def synthetic(tmp):
    model = tmp / "synthetic.gguf"
    preset_model.write(model, shared("models/stories260K/stories260K-f32.gguf"))
    return model


def test_synthetic_gqa(tmp):
    check_against_golden(synthetic(tmp), "synthetic.json")


def test_written_file_has_the_presets_types_and_file_type(tmp):
    model = synthetic(tmp)
    golden = json.loads((GOLDEN / "synthetic.json").read_text())["presets"]["Q4_K_M"]
    _, planned_size = planned_types(model, "Q4_K_M")
    out = tmp / "q4_k_m.gguf"
    lowbit("quantize", model, out, "Q4_K_M", "--method", "rtn")
    assert out.stat().st_size == planned_size, (out.stat().st_size, planned_size)
    reader = gguf.GGUFReader(str(out))
    assert int(reader.fields["general.file_type"].parts[-1][0]) == 15  # LLAMA_FTYPE_MOSTLY_Q4_K_M
    for t in reader.tensors:
        if len(t.shape) >= 2:
            assert t.tensor_type.name == golden["other_types"].get(t.name, golden["base"]), t.name


def test_aliases_numbers_and_pure(tmp):
    model = synthetic(tmp)
    q4_k_m, _ = planned_types(model, "Q4_K_M")
    assert planned_types(model, "Q4_K")[0] == q4_k_m  # llama-quantize's alias
    assert planned_types(model, "15")[0] == q4_k_m    # and its number
    assert planned_types(model, "q4_k_m")[0] == q4_k_m
    pure, _ = planned_types(model, "Q4_K_M", "--pure")
    assert {t for name, (t, _) in pure.items() if not name.endswith("_norm.weight")} == {"Q4_K"}
    # --tensor-type over the recipe, --output-tensor-type over everything.
    over, _ = planned_types(model, "Q4_K_M", "--tensor-type", "ffn_down=Q8_0", "--output-tensor-type", "Q4_0")
    assert over["blk.0.ffn_down.weight"][0] == "Q8_0" and over["output.weight"][0] == "Q4_0"
    assert over["blk.0.attn_v.weight"][0] == "Q6_K"


def test_needs_imatrix_and_help(tmp):
    model = synthetic(tmp)
    proc = lowbit("quantize", model, tmp / "x.gguf", "Q2_K_S", expect=1)
    assert "importance matrix" in proc.stderr, proc.stderr
    assert not (tmp / "x.gguf").exists()
    help_text = lowbit("quantize", "--help").stdout
    assert "  15  or  Q4_K_M  :  4.58G, +0.1754 ppl @ Llama-3-8B" in help_text, help_text
    assert "  15  or  Q4_K    : alias for Q4_K_M" in help_text, help_text


if __name__ == "__main__":
    run_tests([test_smollm2, test_stories260k, test_synthetic_gqa, test_written_file_has_the_presets_types_and_file_type,
               test_aliases_numbers_and_pure, test_needs_imatrix_and_help])
