// Consensus micro-benchmark (issue 7): the Engine in the deterministic simulator
// (tests/sim) with 4 replicas and no faults, so every cost is the engines' own work (BIP340
// signing and checking of proposals, votes and QCs, block tree, safety rules) plus the
// simulator's (its network queue, checker and trace hash). Each iteration is one whole run.
#include <benchmark/benchmark.h>

#include "simulator.h"

namespace minetrace::bench {
namespace {

void BM_ConsensusSimulatorNoFaults(benchmark::State& state) {
  sim::SimOptions options;
  options.seed = 1;
  options.steps = static_cast<uint64_t>(state.range(0));
  options.faults = 0;
  options.replicas = 4;
  options.check_liveness = false;
  uint64_t events = 0, blocks = 0, messages = 0;
  int64_t virtual_ms = 0;
  for (auto _ : state) {
    const sim::SimResult r = sim::RunSimulation(options);
    if (!r.ok) {
      state.SkipWithError(r.Summary().c_str());
      break;
    }
    events += r.events;
    blocks += r.committed_height;
    virtual_ms += r.virtual_ms;
    for (const auto& [name, count] : r.stats) {
      // Delivered replica-to-replica messages: "in.proposal", "in.vote", ...
      if (name.rfind("in.", 0) == 0 && name != "in.timer" && name != "in.payload" &&
          name != "in.executed" && name != "in.start") {
        messages += count;
      }
    }
  }
  using C = benchmark::Counter;
  state.counters["committed_blocks_per_s"] = C(static_cast<double>(blocks), C::kIsRate);
  state.counters["messages_per_s"] = C(static_cast<double>(messages), C::kIsRate);
  state.counters["events_per_s"] = C(static_cast<double>(events), C::kIsRate);
  state.counters["simulated_s_per_s"] = C(static_cast<double>(virtual_ms) / 1000, C::kIsRate);
}
// Real time: the figure is per wall second.
BENCHMARK(BM_ConsensusSimulatorNoFaults)
    ->ArgName("steps")
    ->Arg(5'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace minetrace::bench
