// lowbit: one program, one subcommand per file in this folder.
#include <cstdio>
#include <exception>

#include "lowbit/cli/commands.h"

int main(int argc, char** argv) { return lowbit::cli::run(argc, argv); }
