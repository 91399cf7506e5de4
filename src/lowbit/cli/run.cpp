#include <CLI/CLI.hpp>
#include <cstdio>

#include "lowbit/cli/commands.h"
#include "lowbit/core/error.h"

namespace lowbit::cli {

int run(int argc, char** argv) {
  CLI::App app{"lowbit: quantize, convert and inspect LLM weights"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

}  // namespace lowbit::cli
