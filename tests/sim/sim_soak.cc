// sim_soak runs many seeds of the consensus simulator and prints progress, every failing
// seed with the command that replays it, and seeds per second at the end.
//   sim_soak --seeds N --steps M [--first-seed S] [--faults all|none|loss,crash,...]
//            [--mutation none|vote-twice|one-chain|ignore-tc] [--replicas R] [--crash-all]
//            [--no-liveness] [--verbose] [--log]   (--log: every event and action)
// Exit status: 0 when every seed passed, 1 when one failed, 2 on bad arguments.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <cstdlib>
#include <string>
#include <string_view>

#include "simulator.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: sim_soak --seeds N --steps M [--first-seed S] [--faults all|none|LIST]\n"
               "                [--mutation none|vote-twice|one-chain|ignore-tc] [--replicas R]\n"
               "                [--crash-all] [--no-liveness] [--verbose] [--log]\n"
               "fault names:");
  for (const auto& f : minetrace::sim::FaultNames()) {
    std::fprintf(stderr, " %.*s", static_cast<int>(f.name.size()), f.name.data());
  }
  std::fprintf(stderr, "\n");
}

bool ParseU64(const char* text, uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(text, &end, 10);
  return end != text && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  using minetrace::sim::SimOptions;
  uint64_t seeds = 100;
  uint64_t first_seed = 1;
  bool verbose = false;
  SimOptions base;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    uint64_t value = 0;
    if (arg == "--seeds" && has_value && ParseU64(argv[i + 1], value)) {
      seeds = value;
      ++i;
    } else if (arg == "--steps" && has_value && ParseU64(argv[i + 1], value)) {
      base.steps = value;
      ++i;
    } else if (arg == "--first-seed" && has_value && ParseU64(argv[i + 1], value)) {
      first_seed = value;
      ++i;
    } else if (arg == "--replicas" && has_value && ParseU64(argv[i + 1], value) && value >= 1 &&
               value <= 64) {
      base.replicas = value;
      ++i;
    } else if (arg == "--faults" && has_value) {
      auto faults = minetrace::sim::ParseFaults(argv[++i]);
      if (!faults) {
        Usage();
        return 2;
      }
      base.faults = *faults;
    } else if (arg == "--mutation" && has_value) {
      auto mutation = minetrace::sim::ParseMutation(argv[++i]);
      if (!mutation) {
        Usage();
        return 2;
      }
      base.mutation = *mutation;
    } else if (arg == "--crash-all") {
      base.crash_all_at_once = true;
    } else if (arg == "--no-liveness") {
      base.check_liveness = false;
    } else if (arg == "--log") {
      base.log = &std::cout;
    } else if (arg == "--verbose") {
      verbose = true;
    } else {
      Usage();
      return 2;
    }
  }

  const auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0;
  uint64_t events = 0;
  const uint64_t progress_every = seeds >= 20 ? seeds / 20 : 1;
  for (uint64_t k = 0; k < seeds; ++k) {
    SimOptions options = base;
    options.seed = first_seed + k;
    const auto result = minetrace::sim::RunSimulation(options);
    events += result.events;
    if (!result.ok) {
      ++failed;
      std::printf("FAIL seed %llu: %s\n  replay: %s\n",
                  static_cast<unsigned long long>(options.seed), result.Summary().c_str(),
                  minetrace::sim::ReplayCommand(options).c_str());
    } else if (verbose) {
      std::printf("seed %llu: %s\n", static_cast<unsigned long long>(options.seed),
                  result.Summary().c_str());
    }
    if ((k + 1) % progress_every == 0 || k + 1 == seeds) {
      std::printf("progress: %llu/%llu seeds, %llu failed\n",
                  static_cast<unsigned long long>(k + 1), static_cast<unsigned long long>(seeds),
                  static_cast<unsigned long long>(failed));
    }
    std::fflush(stdout);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("done: %llu seeds, %llu failed, %llu events, %.1f s, %.2f seeds/s\n",
              static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(failed),
              static_cast<unsigned long long>(events), seconds,
              seconds > 0 ? static_cast<double>(seeds) / seconds : 0.0);
  return failed == 0 ? 0 : 1;
}
