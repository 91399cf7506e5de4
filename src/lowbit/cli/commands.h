// Each subcommand lives in its own file and registers itself on the top-level app.
#pragma once

namespace CLI {
class App;
}

namespace lowbit::cli {

int run(int argc, char** argv);

void add_inspect(CLI::App& app);
void add_convert(CLI::App& app);
void add_quantize(CLI::App& app);
void add_qerror(CLI::App& app);
void add_run(CLI::App& app);
void add_perplexity(CLI::App& app);
void add_kld(CLI::App& app);
void add_bench(CLI::App& app);
void add_logits(CLI::App& app);
void add_imatrix(CLI::App& app);

}  // namespace lowbit::cli
