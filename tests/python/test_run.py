#!/usr/bin/env python3
"""The inference commands end to end: `run` reproduces llama2.c's greedy story, the
evaluation commands print what they promise, and bad requests exit with the documented
status (1 for requests and text, 2 for malformed model files) and a message."""
import json

from oracle import lowbit, model_file, run_tests, shared

STORIES = "models/stories260K/stories260K-f32.gguf"


def test_greedy_run_reproduces_reference(tmp):
    expected = shared("models/stories260K/expected_greedy_n200.txt").read_text()
    out = lowbit("run", "-m", shared(STORIES), "-p", "Once upon a time", "-n", "150", "--temp", "0", "-c", "512")
    # The prompt is the reference's first four words; everything after must follow it.
    assert out.stdout.startswith("Once upon a time"), out.stdout[:80]
    assert expected.startswith(out.stdout.rstrip("\n")[: len(expected)]), (out.stdout[:300], expected[:300])
    assert len(out.stdout) > 350  # 150 generated tokens of story
    assert "tok/s" in out.stderr


def test_sampling_is_reproducible_with_a_seed(tmp):
    args = ("run", "-m", shared(STORIES), "-p", "The dog", "-n", "40", "--temp", "0.9", "--seed", "11", "-c", "128")
    assert lowbit(*args).stdout == lowbit(*args).stdout


def test_run_says_why_it_stopped(tmp):
    # The file's context is 128: BOS plus 127 fed tokens, and the 128th sampled, fill it.
    full = lowbit("run", "-m", shared(STORIES), "-p", "", "-n", "300", "--temp", "0")
    assert ("lowbit: stopped: the context of 128 tokens is full; pass -c N for a longer context "
            "(the model was trained on 128)\n") in full.stderr, full.stderr
    assert "generated 128 tokens" in full.stderr, full.stderr
    longer = lowbit("run", "-m", shared(STORIES), "-p", "", "-n", "300", "--temp", "0", "-c", "200")
    assert "lowbit: stopped: the context of 200 tokens is full;" in longer.stderr, longer.stderr
    assert "(the model was trained on 128)\n" in longer.stderr, longer.stderr
    limit = lowbit("run", "-m", shared(STORIES), "-p", "Once upon a time", "-n", "7", "--temp", "0")
    assert "lowbit: stopped: 7 tokens generated, as asked (-n 7)\n" in limit.stderr, limit.stderr
    # Exactly filling the context with the -n tokens asked for is the -n case, not an error.
    exact = lowbit("run", "-m", shared(STORIES), "-p", "", "-n", "128", "--temp", "0")
    assert "lowbit: stopped: 128 tokens generated, as asked (-n 128)\n" in exact.stderr, exact.stderr
    # SmolLM2-Instruct ends its answer with <|im_end|> well before -n.
    chat = "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"
    eog = lowbit("run", "-m", model_file("SmolLM2-135M-Instruct.Q4_1.gguf"), "-p", chat, "-n", "60", "--temp", "0")
    assert "lowbit: stopped: the model sent its end-of-generation token\n" in eog.stderr, eog.stderr


def test_kld_json_against_itself(tmp):
    model = shared(STORIES)
    out = lowbit("kld", "--base", model, "-m", model, "-f", shared("data/tinystories-valid-sample.txt"),
                 "-c", "64", "--chunks", "3", "--json")
    j = json.loads(out.stdout)
    assert j["tokens_scored"] == 3 * 31
    assert abs(j["kld_mean"]) < 1e-9 and j["top1_agreement"] == 1.0
    assert abs(j["kld_max"]) < 1e-9 and abs(j["kld_p1"]) < 1e-9 and abs(j["rms_delta_p"]) < 1e-9
    assert j["ppl"] == j["ppl_base"] and j["ppl_diff"] == 0 and j["ppl_ratio"] == 1
    text = lowbit("kld", "--base", model, "-m", model, "-f", shared("data/tinystories-valid-sample.txt"),
                  "-c", "64", "--chunks", "3").stdout
    for label in ("Mean PPL(Q)/PPL(base)", "Mean    KLD:", " 1.0%   KLD:", "99.0%   KLD:", "Same top p: 100.000"):
        assert label in text, (label, text)


def test_perplexity_prints_llama_cpp_style(tmp):
    out = lowbit("perplexity", "-m", shared(STORIES), "-f", shared("data/tinystories-valid-sample.txt"),
                 "-c", "128", "--chunks", "50")
    # llama-perplexity (c392e50) printed [50]3.9143 for the same file, model and context.
    running = out.stdout.split("\n")[0].rstrip(",").split(",")
    assert len(running) == 50 and running[-1].startswith("[50]"), running[-1]
    assert abs(float(running[-1][4:]) - 3.9143) < 0.004, running[-1]
    assert "Final estimate: PPL = " in out.stdout


def test_bench_json(tmp):
    out = lowbit("bench", "-m", shared(STORIES), "-p", "16,32", "-n", "8", "-r", "2", "--json")
    j = json.loads(out.stdout)
    assert [t["name"] for t in j["tests"]] == ["pp16", "pp32", "tg8"]
    assert all(t["tokens_per_second"] > 0 for t in j["tests"])
    assert j["weight_bytes"] > 1_000_000 and j["peak_resident_bytes"] > j["kv_cache_bytes"]
    assert {g["type"] for g in j["gemv"]} == {"F32"}
    half = json.loads(lowbit("bench", "-m", shared(STORIES), "-p", "16,32", "-n", "8", "-r", "1", "--json",
                             "--kv-type", "f16").stdout)
    assert half["kv_cache_bytes"] * 2 == j["kv_cache_bytes"], (half["kv_cache_bytes"], j["kv_cache_bytes"])


def test_bad_requests_exit_1(tmp):
    empty = tmp / "empty.txt"
    empty.write_text("")
    r = lowbit("perplexity", "-m", shared(STORIES), "-f", empty, expect=1)
    assert "empty" in r.stderr
    short = tmp / "short.txt"
    short.write_text("Once upon a time there was a cat.")
    r = lowbit("perplexity", "-m", shared(STORIES), "-f", short, "-c", "128", expect=1)
    assert "needs at least 256" in r.stderr
    r = lowbit("run", "-m", shared(STORIES), "-p", "word " * 200, "-c", "64", expect=1)
    assert "context holds 64" in r.stderr
    lowbit("perplexity", "-m", shared(STORIES), "-f", tmp / "missing.txt", expect=1)


def test_bad_models_exit_2(tmp):
    r = lowbit("run", "-m", tmp / "no-such-model.gguf", "-p", "hi", expect=2)
    assert "no-such-model.gguf" in r.stderr
    truncated = tmp / "truncated.gguf"
    truncated.write_bytes(shared(STORIES).read_bytes()[:100000])
    r = lowbit("run", "-m", truncated, "-p", "hi", expect=2)
    assert "truncated.gguf" in r.stderr


if __name__ == "__main__":
    run_tests([test_greedy_run_reproduces_reference, test_sampling_is_reproducible_with_a_seed,
               test_run_says_why_it_stopped,
               test_kld_json_against_itself, test_perplexity_prints_llama_cpp_style, test_bench_json,
               test_bad_requests_exit_1, test_bad_models_exit_2])
