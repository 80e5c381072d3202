// The `minetrace` command. Everything is in RunCli (app.h); main supplies what only a process
// entry point may create: the system clock and the random source for nonces.
#include <grpc/support/log.h>
#include <unistd.h>

#include <cstdint>
#include <exception>
#include <iostream>
#include <random>

#include "app.h"

int main(int argc, char** argv) {
  try {
    // gRPC would print its own log lines on connection trouble; the CLI reports every
    // failure itself, as one line.
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
    minetrace::SystemClock clock;
    std::random_device device;
    const minetrace::cli::Env env{
        .out = std::cout,
        .err = std::cerr,
        .clock = clock,
        .random_u64 =
            [&device] {
              // random_device yields 32 bits per call on common platforms.
              return (uint64_t{device()} << 32) ^ uint64_t { device() };
            },
        .err_is_terminal = ::isatty(STDERR_FILENO) == 1,
    };
    return minetrace::cli::RunCli(argc, argv, env);
  } catch (const std::exception& e) {
    std::cerr << "minetrace: internal error: INTERNAL: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "minetrace: internal error: INTERNAL: unknown exception\n";
  }
  return 1;
}
