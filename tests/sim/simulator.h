// The deterministic consensus simulator (VOPR-style): n = 4..7 consensus Engines run against
// a simulated network, clock and store, with faults and Byzantine replicas chosen from one
// 64-bit seed. A run is a pure function of its SimOptions: the same options give the same
// trace hash (SHA-256 over every delivered event and every emitted action), so a failing seed
// replays exactly with the command ReplayCommand prints.
//
// A run has two phases: `steps` events with the enabled faults, then a heal (no more network
// faults or crashes; every crashed replica restarts; at most f Byzantine replicas go on) and
// a liveness phase in which every honest replica must commit `liveness_blocks` new blocks
// within `liveness_window_ms` of virtual time. The Checker (checker.h) runs throughout.
// Thread-safety: RunSimulation is a pure function; runs may go in parallel.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/consensus/engine.h"

namespace minetrace::sim {

// One bit per fault kind; a FaultSet enables some of them for a run.
enum Fault : uint32_t {
  kLoss = 1u << 0,           // messages dropped
  kDelay = 1u << 1,          // some messages held for seconds
  kDuplicate = 1u << 2,      // messages delivered twice
  kReorder = 1u << 3,        // wide latency jitter, so messages overtake each other
  kPartition = 1u << 4,      // the network splits into two groups and heals, repeatedly
  kCrash = 1u << 5,          // honest replicas crash (losing unexecuted actions) and restart
  kClockSkew = 1u << 6,      // per-replica clock offsets
  kEquivocate = 1u << 7,     // a Byzantine leader signs two proposals per round (or a stale one)
  kDoubleVote = 1u << 8,     // a Byzantine replica votes for two blocks per round
  kBadSignature = 1u << 9,   // a Byzantine replica corrupts signatures (its own and in QCs)
  kWithholdVotes = 1u << 10, // a Byzantine replica never sends its votes
  kReplay = 1u << 11,        // a Byzantine replica replays old messages
  kTwins = 1u << 12,         // two engines share one key and index, each seeing part of the net
};
using FaultSet = uint32_t;
inline constexpr FaultSet kAllFaults = (1u << 13) - 1;
inline constexpr FaultSet kByzantineFaults =
    kEquivocate | kDoubleVote | kBadSignature | kWithholdVotes | kReplay | kTwins;

struct FaultName {
  Fault fault;
  std::string_view name;
};
// Every fault kind with its command-line name, in bit order.
const std::vector<FaultName>& FaultNames();
// "all", "none", or a comma-separated list of names ("loss,crash,twins").
std::optional<FaultSet> ParseFaults(std::string_view text);
std::string FaultsToString(FaultSet faults);
std::optional<consensus::SafetyMutation> ParseMutation(std::string_view text);
std::string_view MutationName(consensus::SafetyMutation mutation);

struct SimOptions {
  uint64_t seed = 0;
  uint64_t steps = 2000;  // events executed in the fault phase
  FaultSet faults = kAllFaults;
  // Broken safety rule for the mutation check; applied to every replica of the run.
  consensus::SafetyMutation mutation = consensus::SafetyMutation::kNone;
  size_t replicas = 0;  // 0: the seed chooses 4..7
  // Crash every honest replica at once at some point of the fault phase (needs kCrash).
  bool crash_all_at_once = false;
  bool check_liveness = true;
  uint64_t liveness_blocks = 3;
  int64_t liveness_window_ms = 90'000;
  // When set, one line per delivered event and executed action is written here (sim_soak
  // --log), for reading a replayed seed. Not part of the trace hash.
  std::ostream* log = nullptr;
};

struct SimResult {
  bool ok = true;
  std::vector<std::string> violations;
  Hash32 trace_hash{};
  uint64_t events = 0;
  int64_t virtual_ms = 0;
  size_t replicas = 0;
  size_t byzantine = 0;
  uint64_t committed_height = 0;  // the highest height any honest replica committed
  uint64_t crashes = 0;
  // Counts of delivered events and executed actions by kind, and of PeerMisbehaved reasons
  // (first words), for diagnosis; printed by Summary when the run failed.
  std::map<std::string, uint64_t> stats;
  std::string Summary() const;
};

SimResult RunSimulation(const SimOptions& options);

// The command, relative to the build directory, that reruns exactly this one seed.
std::string ReplayCommand(const SimOptions& options);

}  // namespace minetrace::sim
