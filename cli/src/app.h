// The `minetrace` command line: keys, testnet, tx <action> and query <what>, built with CLI11.
// RunCli parses the arguments, runs one command and returns the process exit status
// (failure.h's ExitCode); it never throws, so main only has to hand it what it cannot choose
// itself: the output streams, the clock and a source of random nonces.
// Thread-safety: one RunCli at a time per Env.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>

#include "minetrace/base/clock.h"

namespace minetrace::cli {

struct Env {
  std::ostream& out;                     // results
  std::ostream& err;                     // the one error line
  const Clock& clock;                    // default device time of signed transactions
  std::function<uint64_t()> random_u64;  // default nonces
  bool err_is_terminal = false;          // progress bars on `err`, else plain progress lines
};

int RunCli(int argc, const char* const argv[], const Env& env);

}  // namespace minetrace::cli
