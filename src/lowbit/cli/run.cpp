#include <CLI/CLI.hpp>
#include <cstdio>

#include "lowbit/cli/commands.h"
#include "lowbit/core/error.h"

namespace lowbit::cli {

// Exit status: 0 success, 1 usage or I/O failure, 2 bad input file.
int run(int argc, char** argv) {
  CLI::App app{"lowbit: quantize, convert, inspect, run and evaluate LLMs"};
  app.require_subcommand(1);
  add_inspect(app);
  add_convert(app);
  add_quantize(app);
  add_qerror(app);
  add_run(app);
  add_perplexity(app);
  add_kld(app);
  add_bench(app);
  add_logits(app);
  add_imatrix(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or --help); any usage error is exit status 1.
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const FormatError& e) {
    std::fprintf(stderr, "lowbit: error: %s\n", e.what());
    return 2;
  } catch (const IoError& e) {
    std::fprintf(stderr, "lowbit: error: %s\n", e.what());
    return 1;
  } catch (const std::invalid_argument& e) {
    // Requests the model or text cannot satisfy (prompt too long, text too short).
    std::fprintf(stderr, "lowbit: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lowbit: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace lowbit::cli
