"""A small Llama-shaped F32 GGUF whose every row fits a 256-weight block, with grouped-query
attention (8 query heads over 2 key/value heads: llama-quantize's n_gqa() = 4) and 8 layers,
so that the presets' rules by layer position and GQA factor all show. The vocabulary is
stories260K's (512 tokens). The weights are seeded noise: only shapes and names matter to
which type each tensor gets."""
from pathlib import Path

import numpy as np
import gguf

HIDDEN, FFN, LAYERS, HEADS, KV_HEADS = 256, 512, 8, 8, 2


def write(path: Path, vocab_source: Path) -> None:
    src = gguf.GGUFReader(str(vocab_source))
    tokens = [bytes(src.fields["tokenizer.ggml.tokens"].parts[i]).decode("utf-8", "replace")
              for i in src.fields["tokenizer.ggml.tokens"].data]
    scores = [float(src.fields["tokenizer.ggml.scores"].parts[i][0]) for i in src.fields["tokenizer.ggml.scores"].data]
    types = [int(src.fields["tokenizer.ggml.token_type"].parts[i][0]) for i in src.fields["tokenizer.ggml.token_type"].data]
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(256)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_block_count(LAYERS)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    rng = np.random.default_rng(1234)

    def matrix(name, rows, cols):
        w.add_tensor(name, (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32))

    vocab = len(tokens)
    matrix("token_embd.weight", vocab, HIDDEN)
    w.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    matrix("output.weight", vocab, HIDDEN)
    head = HIDDEN // HEADS
    for i in range(LAYERS):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        matrix(p + "attn_q.weight", HIDDEN, HIDDEN)
        matrix(p + "attn_k.weight", KV_HEADS * head, HIDDEN)
        matrix(p + "attn_v.weight", KV_HEADS * head, HIDDEN)
        matrix(p + "attn_output.weight", HIDDEN, HIDDEN)
        w.add_tensor(p + "ffn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        matrix(p + "ffn_gate.weight", FFN, HIDDEN)
        matrix(p + "ffn_up.weight", FFN, HIDDEN)
        matrix(p + "ffn_down.weight", HIDDEN, FFN)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    import sys
    write(Path(sys.argv[1]), Path(sys.argv[2]))
