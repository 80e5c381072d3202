#include "bench.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <numeric>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "format.h"
#include "minetrace/base/assert.h"
#include "minetrace/base/bytes.h"
#include "minetrace/crypto/sha256.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::cli {
namespace {

constexpr uint64_t kLotGramsA = 50'000;
constexpr uint64_t kLotGramsB = 40'000;
constexpr uint32_t kGradeBasisPoints = 6000;
constexpr size_t kTxsPerChain = 6;
constexpr uint32_t kMaxTagsPerAllocation = 10000;  // the ledger's bound per AllocateTags
constexpr uint64_t kSiteEstimateKgPerMonth = 1'000'000'000;  // the ledger's maximum

std::string KeyBytes(const crypto::PrivateKey& k) {
  return std::string(k.public_key().begin(), k.public_key().end());
}

// The envelope without its signature: SignAll signs every tx of a plan at the end, on all
// cores (signing dominates the time before the clock starts).
v1::SignedTx Unsigned(const v1::TxBody& body, const crypto::PrivateKey& key) {
  v1::SignedTx tx;
  tx.set_body(body.SerializeAsString());
  tx.set_signer(KeyBytes(key));
  return tx;
}

void SignAll(WorkloadPlan& plan, const BenchWorld& world, const crypto::PrivateKey& admin,
             size_t threads) {
  std::unordered_map<std::string, const crypto::PrivateKey*> keys;
  keys.emplace(KeyBytes(admin), &admin);
  for (const auto* role : {&world.agents, &world.cooperatives, &world.processors}) {
    for (const auto& k : *role) keys.emplace(KeyBytes(k), &k);
  }
  std::vector<v1::SignedTx*> txs;
  for (auto& tx : plan.setup_members_sites) txs.push_back(&tx);
  for (auto& tx : plan.setup_tags) txs.push_back(&tx);
  for (auto& u : plan.units) {
    for (auto& stage : u.stages) {
      for (auto& tx : stage) txs.push_back(&tx);
    }
  }
  auto sign = [&](size_t first) {
    for (size_t i = first; i < txs.size(); i += threads) {
      v1::SignedTx& tx = *txs[i];
      const crypto::PrivateKey* key = keys.at(tx.signer());
      const crypto::Signature sig = key->Sign(ledger::proof::TxSigningHash(AsBytes(tx.body())));
      tx.set_signature(std::string(sig.begin(), sig.end()));
    }
  };
  threads = std::max<size_t>(1, threads);
  std::vector<std::thread> workers;
  for (size_t t = 1; t < threads; ++t) workers.emplace_back(sign, t);
  sign(0);
  for (auto& w : workers) w.join();
}

Result<crypto::PrivateKey> DeriveKey(const std::string& run_id, std::string_view role, size_t i) {
  const std::string label = "minetrace-bench/" + run_id + "/" + std::string(role) + "/" +
                            std::to_string(i);
  for (int attempt = 0; attempt < 4; ++attempt) {
    Hash32 secret = crypto::Sha256(AsBytes(label + "#" + std::to_string(attempt)));
    auto key = crypto::PrivateKey::FromBytes(ByteView(secret.data(), secret.size()));
    if (key) return key;
  }
  return MakeError(ErrorCode::kInternal, "could not derive a bench key for " + label);
}

// Builds and signs load txs; keeps count of the tags each agent and processor uses.
class Planner {
 public:
  Planner(const BenchWorld& world, const PlanParams& params)
      : world_(world),
        params_(params),
        mine_tags_used_(world.agents.size(), 0),
        processor_tags_used_(world.processors.size(), 0) {}

  v1::TxBody Body(int64_t step) {
    v1::TxBody b;
    b.set_chain_id(params_.chain_id);
    b.set_nonce(params_.nonce());
    b.set_created_at_ms(params_.now_ms + step);
    return b;
  }

  std::string NextMineTag(size_t agent) {
    return TagId(world_.MineTagPrefix(agent), ++mine_tags_used_[agent]);
  }
  std::string NextProcessorTag(size_t processor) {
    return TagId(world_.ProcessorTagPrefix(processor), ++processor_tags_used_[processor]);
  }

  v1::SignedTx RecordLot(size_t agent, size_t coop, const std::string& tag, uint64_t grams) {
    auto b = Body(0);
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id(tag);
    a->set_site_id(world_.site_ids[agent]);
    a->set_mineral(v1::MINERAL_CASSITERITE);
    a->set_weight_grams(grams);
    a->set_grade_basis_points(kGradeBasisPoints);
    a->set_producer_key(KeyBytes(world_.cooperatives[coop]));
    return Unsigned(b, world_.agents[agent]);
  }

  LoadUnit MineLot(size_t k) {
    const size_t agent = k % world_.agents.size();
    const size_t coop = k % world_.cooperatives.size();
    LoadUnit u;
    u.stages.push_back({RecordLot(agent, coop, NextMineTag(agent), kLotGramsA)});
    return u;
  }

  LoadUnit CustodyChain(size_t k) {
    const size_t agent = k % world_.agents.size();
    const size_t coop = k % world_.cooperatives.size();
    const size_t proc = k % world_.processors.size();
    const std::string lot_a = NextMineTag(agent);
    const std::string lot_b = NextMineTag(agent);
    LoadUnit u;
    u.stages.push_back({RecordLot(agent, coop, lot_a, kLotGramsA),
                        RecordLot(agent, coop, lot_b, kLotGramsB)});

    auto dispatch = Body(1);
    dispatch.mutable_dispatch_lots()->add_lot_ids(lot_a);
    dispatch.mutable_dispatch_lots()->add_lot_ids(lot_b);
    dispatch.mutable_dispatch_lots()->set_receiver_key(KeyBytes(world_.processors[proc]));
    u.stages.push_back({Unsigned(dispatch, world_.cooperatives[coop])});

    auto receive = Body(2);
    for (const auto& [lot, grams] : {std::pair{lot_a, kLotGramsA}, std::pair{lot_b, kLotGramsB}}) {
      auto* r = receive.mutable_receive_lots()->add_lots();
      r->set_lot_id(lot);
      r->set_weight_grams(grams);
    }
    u.stages.push_back({Unsigned(receive, world_.processors[proc])});

    const std::string merged = NextProcessorTag(proc);
    auto merge = Body(3);
    auto* m = merge.mutable_process_lots();
    m->set_kind(v1::PROCESSING_KIND_MERGE);
    m->add_input_lot_ids(lot_a);
    m->add_input_lot_ids(lot_b);
    auto* mo = m->add_outputs();
    mo->set_tag_id(merged);
    mo->set_weight_grams(kLotGramsA + kLotGramsB);
    mo->set_grade_basis_points(kGradeBasisPoints);
    u.stages.push_back({Unsigned(merge, world_.processors[proc])});

    auto split = Body(4);
    auto* s = split.mutable_process_lots();
    s->set_kind(v1::PROCESSING_KIND_SPLIT);
    s->add_input_lot_ids(merged);
    for (int half = 0; half < 2; ++half) {
      auto* so = s->add_outputs();
      so->set_tag_id(NextProcessorTag(proc));
      so->set_weight_grams((kLotGramsA + kLotGramsB) / 2);
      so->set_grade_basis_points(kGradeBasisPoints);
    }
    u.stages.push_back({Unsigned(split, world_.processors[proc])});
    return u;
  }

  // AllocateTags txs for every tag used, at most kMaxTagsPerAllocation each.
  std::vector<v1::SignedTx> TagAllocations(const crypto::PrivateKey& admin) {
    std::vector<v1::SignedTx> out;
    auto allocate = [&](const std::string& prefix, const crypto::PrivateKey& holder,
                        const std::string& site, uint64_t used) {
      for (uint64_t first = 1; first <= used; first += kMaxTagsPerAllocation) {
        auto b = Body(0);
        auto* a = b.mutable_allocate_tags();
        a->set_site_id(site);
        a->set_agent_key(KeyBytes(holder));
        a->set_prefix(prefix);
        a->set_first(first);
        a->set_count(static_cast<uint32_t>(
            std::min<uint64_t>(kMaxTagsPerAllocation, used - first + 1)));
        a->set_kind(site.empty() ? v1::TAG_KIND_PROCESSOR : v1::TAG_KIND_MINE);
        out.push_back(Unsigned(b, admin));
      }
    };
    for (size_t i = 0; i < world_.agents.size(); ++i) {
      allocate(world_.MineTagPrefix(i), world_.agents[i], world_.site_ids[i], mine_tags_used_[i]);
    }
    for (size_t i = 0; i < world_.processors.size(); ++i) {
      allocate(world_.ProcessorTagPrefix(i), world_.processors[i], "", processor_tags_used_[i]);
    }
    return out;
  }

 private:
  const BenchWorld& world_;
  const PlanParams& params_;
  std::vector<uint64_t> mine_tags_used_;
  std::vector<uint64_t> processor_tags_used_;
};

v1::SignedTx RegisterMember(const PlanParams& params, const crypto::PrivateKey& admin,
                            const crypto::PrivateKey& who, v1::Role role,
                            const std::string& name) {
  v1::TxBody b;
  b.set_chain_id(params.chain_id);
  b.set_nonce(params.nonce());
  b.set_created_at_ms(params.now_ms);
  auto* a = b.mutable_register_member();
  a->set_member_key(KeyBytes(who));
  a->set_name(name);
  a->add_roles(role);
  a->set_country("CD");
  return Unsigned(b, admin);
}

std::string Fixed(double v, int decimals) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(decimals) << v;
  return s.str();
}

bool IsHexDigit(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

std::optional<Workload> ParseWorkload(std::string_view name) {
  if (name == "mine-lots") return Workload::kMineLots;
  if (name == "custody") return Workload::kCustody;
  if (name == "mixed") return Workload::kMixed;
  return std::nullopt;
}

std::string_view WorkloadName(Workload workload) {
  switch (workload) {
    case Workload::kMineLots: return "mine-lots";
    case Workload::kCustody: return "custody";
    case Workload::kMixed: return "mixed";
  }
  return "unknown";
}

std::string BenchWorld::MineTagPrefix(size_t agent) const {
  return "M" + run_id + "-" + std::to_string(agent);
}

std::string BenchWorld::ProcessorTagPrefix(size_t processor) const {
  return "P" + run_id + "-" + std::to_string(processor);
}

Result<BenchWorld> MakeBenchWorld(uint64_t seed, size_t keys) {
  if (keys < 3 || keys > kMaxBenchKeys) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--keys must be 3 to " + std::to_string(kMaxBenchKeys) +
                         " (agents, cooperatives and processors, a third each)");
  }
  BenchWorld w;
  Bytes seed_bytes(8);
  for (int i = 0; i < 8; ++i) seed_bytes[i] = static_cast<uint8_t>(seed >> (8 * (7 - i)));
  w.run_id = ToHex(crypto::Sha256(seed_bytes)).substr(0, 8);
  const size_t per_role = keys / 3;
  for (size_t i = 0; i < per_role; ++i) {
    auto agent = DeriveKey(w.run_id, "agent", i);
    if (!agent) return tl::unexpected(agent.error());
    auto coop = DeriveKey(w.run_id, "cooperative", i);
    if (!coop) return tl::unexpected(coop.error());
    auto proc = DeriveKey(w.run_id, "processor", i);
    if (!proc) return tl::unexpected(proc.error());
    w.agents.push_back(*agent);
    w.cooperatives.push_back(*coop);
    w.processors.push_back(*proc);
    w.site_ids.push_back("BS" + w.run_id + "-" + std::to_string(i));
  }
  return w;
}

size_t LoadUnit::TxCount() const {
  size_t n = 0;
  for (const auto& stage : stages) n += stage.size();
  return n;
}

WorkloadPlan PlanWorkload(const BenchWorld& world, const crypto::PrivateKey& admin,
                          const PlanParams& params) {
  MT_ASSERT(!world.agents.empty());
  MT_ASSERT(world.agents.size() == world.site_ids.size());
  WorkloadPlan plan;
  for (size_t i = 0; i < world.agents.size(); ++i) {
    const std::string n = world.run_id + "-" + std::to_string(i);
    plan.setup_members_sites.push_back(
        RegisterMember(params, admin, world.agents[i], v1::ROLE_AGENT, "bench agent " + n));
    plan.setup_members_sites.push_back(RegisterMember(
        params, admin, world.cooperatives[i], v1::ROLE_COOPERATIVE, "bench cooperative " + n));
    plan.setup_members_sites.push_back(RegisterMember(
        params, admin, world.processors[i], v1::ROLE_PROCESSOR, "bench processor " + n));
    v1::TxBody b;
    b.set_chain_id(params.chain_id);
    b.set_nonce(params.nonce());
    b.set_created_at_ms(params.now_ms);
    auto* s = b.mutable_register_mine_site();
    s->set_site_id(world.site_ids[i]);
    s->set_name("bench site " + n);
    s->set_country("CD");
    s->add_minerals(v1::MINERAL_CASSITERITE);
    s->set_status(v1::SITE_STATUS_GREEN);
    s->set_production_estimate_kg_per_month(kSiteEstimateKgPerMonth);
    plan.setup_members_sites.push_back(Unsigned(b, admin));
  }

  Planner planner(world, params);
  size_t mine_lots = 0;
  size_t chains = 0;
  while (plan.load_txs < params.load_txs) {
    bool chain = false;
    switch (params.workload) {
      case Workload::kMineLots: chain = false; break;
      case Workload::kCustody: chain = true; break;
      // One chain, then as many mine lots as it has txs.
      case Workload::kMixed: chain = mine_lots >= chains * kTxsPerChain; break;
    }
    LoadUnit u = chain ? planner.CustodyChain(chains++) : planner.MineLot(mine_lots++);
    plan.load_txs += u.TxCount();
    plan.units.push_back(std::move(u));
  }
  plan.setup_tags = planner.TagAllocations(admin);
  SignAll(plan, world, admin, params.signing_threads);
  return plan;
}

size_t Pacer::Due(std::chrono::nanoseconds elapsed, size_t sent) const {
  if (elapsed.count() <= 0 || rate_per_s_ <= 0) return 0;
  const double allowed = std::floor(rate_per_s_ * static_cast<double>(elapsed.count()) / 1e9);
  if (allowed <= static_cast<double>(sent)) return 0;
  const double due = allowed - static_cast<double>(sent);
  return due >= static_cast<double>(max_batch_) ? max_batch_ : static_cast<size_t>(due);
}

double NearestRankPercentile(const std::vector<double>& sorted, double percent) {
  if (sorted.empty()) return 0;
  const double n = static_cast<double>(sorted.size());
  size_t rank = static_cast<size_t>(std::ceil(percent / 100.0 * n));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

LatencyStats SummarizeLatencies(std::vector<double> latencies_ms) {
  LatencyStats s;
  s.count = latencies_ms.size();
  if (latencies_ms.empty()) return s;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  s.p50_ms = NearestRankPercentile(latencies_ms, 50);
  s.p90_ms = NearestRankPercentile(latencies_ms, 90);
  s.p99_ms = NearestRankPercentile(latencies_ms, 99);
  s.max_ms = latencies_ms.back();
  s.mean_ms = std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) /
              static_cast<double>(latencies_ms.size());
  return s;
}

std::string RejectReasonKey(std::string_view code, std::string_view message) {
  constexpr size_t kMaxKeyChars = 160;
  std::string key(code);
  key += ": ";
  for (size_t i = 0; i < message.size();) {
    const char c = message[i];
    size_t j = i;
    while (j < message.size() && IsHexDigit(message[j])) ++j;
    const bool digits_only = std::all_of(message.begin() + static_cast<std::ptrdiff_t>(i),
                                         message.begin() + static_cast<std::ptrdiff_t>(j),
                                         [](char d) { return d >= '0' && d <= '9'; });
    // A run of digits, or of hex digits long enough to be a key or hash, stands for any.
    if (j > i && (digits_only || j - i >= 8)) {
      key += '#';
      i = j;
      continue;
    }
    key += c;
    ++i;
  }
  if (key.size() > kMaxKeyChars) key = key.substr(0, kMaxKeyChars) + "...";
  return key;
}

void PrintBenchSummary(std::ostream& out, const BenchSummary& s) {
  out << "workload " << s.workload << ", " << s.mode;
  if (s.mode == "open-loop") out << " at " << Fixed(s.target_rate, 1) << " tx/s";
  if (s.mode == "closed-loop") out << " with " << s.in_flight << " in flight";
  out << ", " << s.keys << " keys, run " << s.run_id << ", nodes";
  for (const auto& n : s.nodes) out << ' ' << n;
  out << '\n';
  out << "setup " << Fixed(s.setup_s, 1) << " s, signing " << s.presigned << " txs "
      << Fixed(s.signing_s, 1) << " s (before the clock)\n";
  out << "sent " << s.sent << " (admitted " << s.admitted << ", rejected " << s.rejected
      << "); committed OK " << s.committed_ok << ", FAILED " << s.committed_failed
      << ", skipped " << s.skipped << "; uncommitted at the end " << s.uncommitted << '\n';
  out << "committed " << Fixed(s.committed_tx_per_s, 1) << " tx/s (" << s.committed_in_window
      << " txs in the " << Fixed(s.measured_s, 1) << " s after a " << Fixed(s.warmup_s, 1)
      << " s warmup)\n";
  out << "commit latency (submit -> seen committed on the node it was sent to, " << s.latency.count
      << " txs): p50 " << Fixed(s.latency.p50_ms, 1) << " ms, p90 " << Fixed(s.latency.p90_ms, 1)
      << " ms, p99 " << Fixed(s.latency.p99_ms, 1) << " ms, max " << Fixed(s.latency.max_ms, 1)
      << " ms, mean " << Fixed(s.latency.mean_ms, 1) << " ms\n";
  if (s.ran_out_of_txs) {
    out << "note: every pre-signed tx was sent before the duration ended (raise --presign)\n";
  }
  for (const auto& [reason, n] : s.rejects_by_reason) {
    out << "  rejected " << n << ": " << reason << '\n';
  }
  for (const auto& [reason, n] : s.failed_by_reason) {
    out << "  FAILED " << n << ": " << reason << '\n';
  }
}

std::string BenchSummaryJson(const BenchSummary& s) {
  std::ostringstream j;
  auto reasons = [&](const std::map<std::string, size_t>& m) {
    j << '{';
    bool first = true;
    for (const auto& [reason, n] : m) {
      j << (first ? "" : ",") << JsonString(reason) << ':' << n;
      first = false;
    }
    j << '}';
  };
  j << "{\"workload\":" << JsonString(s.workload) << ",\"mode\":" << JsonString(s.mode)
    << ",\"targetRate\":" << Fixed(s.target_rate, 3) << ",\"inFlight\":" << s.in_flight
    << ",\"nodes\":[";
  for (size_t i = 0; i < s.nodes.size(); ++i) j << (i ? "," : "") << JsonString(s.nodes[i]);
  j << "],\"keys\":" << s.keys << ",\"runId\":" << JsonString(s.run_id)
    << ",\"warmupS\":" << Fixed(s.warmup_s, 3) << ",\"measuredS\":" << Fixed(s.measured_s, 3)
    << ",\"setupS\":" << Fixed(s.setup_s, 3) << ",\"signingS\":" << Fixed(s.signing_s, 3)
    << ",\"presigned\":" << s.presigned << ",\"sent\":" << s.sent << ",\"admitted\":" << s.admitted
    << ",\"rejected\":" << s.rejected << ",\"committedOk\":" << s.committed_ok
    << ",\"committedFailed\":" << s.committed_failed << ",\"skipped\":" << s.skipped
    << ",\"uncommitted\":" << s.uncommitted << ",\"committedInWindow\":" << s.committed_in_window
    << ",\"committedTxPerS\":" << Fixed(s.committed_tx_per_s, 3) << ",\"latencyMs\":{\"count\":"
    << s.latency.count << ",\"p50\":" << Fixed(s.latency.p50_ms, 3)
    << ",\"p90\":" << Fixed(s.latency.p90_ms, 3) << ",\"p99\":" << Fixed(s.latency.p99_ms, 3)
    << ",\"max\":" << Fixed(s.latency.max_ms, 3) << ",\"mean\":" << Fixed(s.latency.mean_ms, 3)
    << "},\"rejectsByReason\":";
  reasons(s.rejects_by_reason);
  j << ",\"failedByReason\":";
  reasons(s.failed_by_reason);
  j << ",\"ranOutOfTxs\":" << (s.ran_out_of_txs ? "true" : "false") << '}';
  return j.str();
}

}  // namespace minetrace::cli
