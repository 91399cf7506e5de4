#pragma once

namespace CLI { class App; }

namespace lowbit::cli {

int run(int argc, char** argv);

}  // namespace lowbit::cli
