// The CI seed set of the consensus simulator. Goal: show the engine keeps agreement, never
// reverts, commits only generated payloads and makes progress after the network heals, under
// every fault kind of issue 3; show that each deliberately broken safety rule is caught; and
// show that a seed replays to the same trace hash. Method: run fixed seed ranges through
// RunSimulation and require no violation (or, for mutations, at least one). A failure prints
// the sim_soak command that replays the seed.
#include <gtest/gtest.h>

#include <bit>
#include <cstdio>
#include <ostream>
#include <string>

#include "simulator.h"

namespace minetrace::sim {
namespace {

using consensus::SafetyMutation;

constexpr uint64_t kStepsPerSeed = 800;
constexpr uint64_t kSeedsPerFault = 24;
constexpr uint64_t kSeedsAllFaults = 120;

void ExpectSeedsPass(SimOptions options, uint64_t first_seed, uint64_t seeds) {
  for (uint64_t s = first_seed; s < first_seed + seeds; ++s) {
    options.seed = s;
    const SimResult result = RunSimulation(options);
    EXPECT_TRUE(result.ok) << "seed " << s << ": " << result.Summary()
                           << "\nreplay: " << ReplayCommand(options);
  }
}

TEST(SimReplay, SameSeedGivesSameTraceHash) {
  SimOptions options;
  options.seed = 42;
  options.steps = 800;
  options.faults = kAllFaults;
  const SimResult a = RunSimulation(options);
  const SimResult b = RunSimulation(options);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.virtual_ms, b.virtual_ms);
  options.seed = 43;
  const SimResult c = RunSimulation(options);
  EXPECT_NE(a.trace_hash, c.trace_hash);
}

TEST(SimReplay, ReplayCommandNamesTheSeed) {
  SimOptions options;
  options.seed = 77;
  options.steps = 1500;
  options.faults = kLoss | kCrash;
  EXPECT_EQ(ReplayCommand(options),
            "tests/sim/sim_soak --first-seed 77 --seeds 1 --steps 1500 --faults loss,crash");
  EXPECT_EQ(ParseFaults("loss,crash"), options.faults);
  EXPECT_EQ(ParseFaults("all"), kAllFaults);
  EXPECT_FALSE(ParseFaults("loss,nonsense").has_value());
}

TEST(SimFaults, NoFaultsCommits) {
  SimOptions options;
  options.steps = kStepsPerSeed;
  options.faults = 0;
  for (uint64_t s = 1; s <= 4; ++s) {
    options.seed = s;
    const SimResult result = RunSimulation(options);
    EXPECT_TRUE(result.ok) << result.Summary() << "\nreplay: " << ReplayCommand(options);
    EXPECT_GT(result.committed_height, 10u) << result.Summary();
  }
}

}  // namespace

// Readable test parameters in gtest's output.
void PrintTo(const FaultName& f, std::ostream* os) { *os << f.name; }

namespace {

// One test per fault kind, each fault alone, so a failure names the fault.
class SimEachFault : public ::testing::TestWithParam<FaultName> {};

TEST_P(SimEachFault, SafeAndLive) {
  SimOptions options;
  options.steps = kStepsPerSeed;
  options.faults = GetParam().fault;
  ExpectSeedsPass(options, 1000 * (1 + static_cast<uint64_t>(std::countr_zero(
                                           static_cast<uint32_t>(GetParam().fault)))),
                  kSeedsPerFault);
}

INSTANTIATE_TEST_SUITE_P(Faults, SimEachFault, ::testing::ValuesIn(FaultNames()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(SimFaults, AllFaultsMixed) {
  SimOptions options;
  options.steps = kStepsPerSeed;
  options.faults = kAllFaults;
  ExpectSeedsPass(options, 50'000, kSeedsAllFaults);
}

TEST(SimFaults, NetworkFaultsMixed) {
  SimOptions options;
  options.steps = kStepsPerSeed;
  options.faults = kLoss | kDelay | kDuplicate | kReorder | kPartition | kClockSkew;
  ExpectSeedsPass(options, 60'000, 32);
}

// Acceptance 4: every replica restarts at once from its persisted data.
TEST(SimFaults, RestartEveryReplicaAtOnce) {
  SimOptions options;
  options.steps = kStepsPerSeed;
  options.faults = kCrash;
  options.crash_all_at_once = true;
  ExpectSeedsPass(options, 70'000, 24);
}

// Mutation check: each broken safety rule must be reported within `budget` seeds.
struct MutationCase {
  SafetyMutation mutation;
  FaultSet faults;
  uint64_t budget;
};

void PrintTo(const MutationCase& c, std::ostream* os) {
  *os << MutationName(c.mutation) << " with faults " << FaultsToString(c.faults) << " within "
      << c.budget << " seeds";
}

class SimMutation : public ::testing::TestWithParam<MutationCase> {};

TEST_P(SimMutation, CheckersCatchIt) {
  SimOptions options;
  options.steps = kStepsPerSeed;
  options.faults = GetParam().faults;
  options.mutation = GetParam().mutation;
  options.replicas = 4;
  uint64_t caught = 0;
  for (uint64_t s = 1; s <= GetParam().budget && caught == 0; ++s) {
    options.seed = 90'000 + s;
    const SimResult result = RunSimulation(options);
    if (!result.ok) {
      caught = s;
      std::printf("mutation %s caught at seed %llu (%llu of %llu): %s\nreplay: %s\n",
                  std::string(MutationName(options.mutation)).c_str(),
                  static_cast<unsigned long long>(options.seed),
                  static_cast<unsigned long long>(s),
                  static_cast<unsigned long long>(GetParam().budget), result.Summary().c_str(),
                  ReplayCommand(options).c_str());
    }
  }
  EXPECT_NE(caught, 0u) << "mutation " << MutationName(GetParam().mutation)
                        << " not caught within " << GetParam().budget << " seeds";
}

INSTANTIATE_TEST_SUITE_P(
    Mutations, SimMutation,
    ::testing::Values(MutationCase{SafetyMutation::kVoteTwiceInRound, kEquivocate | kLoss, 10},
                      MutationCase{SafetyMutation::kCommitOnOneChain, kLoss, 5},
                      MutationCase{SafetyMutation::kIgnoreTcHighQc,
                                   kEquivocate | kLoss | kPartition | kDelay, 20}),
    [](const auto& param_info) {
      std::string name(MutationName(param_info.param.mutation));
      for (auto& c : name) {
        if (c == '-') c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace minetrace::sim
