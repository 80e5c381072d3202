// Ledger micro-benchmarks (issue 7): the accumulator (append, inclusion and consistency
// proofs at 10^3..10^6 leaves), rule execution per action kind, a block of 1000 custody txs
// through Ledger::ExecuteAndCommit (a synced RocksDB write on the real disk), and raw synced
// RocksDB batches of 1000 entries, through RocksDB itself and through the ledger's Store.
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "micro_common.h"
#include "minetrace/ledger/accumulator.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/proof/merkle.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/ledger/rules.h"
#include "minetrace/ledger/state.h"
#include "minetrace/ledger/store.h"

namespace minetrace::bench {
namespace {

namespace lp = ledger::proof;

// ---------------------------------------------------------------- accumulator

// Frozen nodes of a tree of 10^6 leaves in memory, built once and shared by the benchmarks:
// a tree of any smaller size n reads exactly the frozen nodes of its first n leaves, which
// this store holds. In memory so that the figures are the accumulator's own work; the
// ledger's reader adds a RocksDB read per node.
constexpr uint64_t kMaxAccumulatorLeaves = 1'000'000;

const ledger::InMemoryAccumulatorStore& BigTree() {
  static const ledger::InMemoryAccumulatorStore* const store = [] {
    auto* s = new ledger::InMemoryAccumulatorStore();
    ledger::Accumulator acc(*s, 0);
    std::vector<Hash32> leaves(1000);
    for (uint64_t done = 0; done < kMaxAccumulatorLeaves; done += leaves.size()) {
      for (size_t i = 0; i < leaves.size(); ++i) {
        const std::string data = "leaf " + std::to_string(done + i);
        leaves[i] = lp::LeafHash(AsBytes(data));
      }
      acc.Append(leaves);
      for (const auto& node : acc.PendingNodes()) s->Put(node);
      acc.MarkCommitted();
    }
    return s;
  }();
  return *store;
}

// Appends one block's worth of 1000 leaf hashes to a tree of range(0) leaves (then rolls back,
// so every iteration appends at the same size). Items are leaves.
void BM_AccumulatorAppend(benchmark::State& state) {
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  ledger::Accumulator acc(BigTree(), size);
  std::vector<Hash32> leaves(1000);
  for (size_t i = 0; i < leaves.size(); ++i) leaves[i] = lp::LeafHash(AsBytes(std::to_string(i)));
  for (auto _ : state) {
    acc.Append(leaves);
    Hash32 root = acc.Root();
    benchmark::DoNotOptimize(root);
    acc.DiscardPending();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * leaves.size()));
}
BENCHMARK(BM_AccumulatorAppend)
    ->ArgName("leaves")
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000);

// The audit path of a random leaf in the tree of range(0) leaves, and its verification.
void BM_AccumulatorInclusionProof(benchmark::State& state) {
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  ledger::Accumulator acc(BigTree(), size);
  std::mt19937_64 rng(7);
  double path_hashes = 0;
  for (auto _ : state) {
    auto path = acc.InclusionProof(rng() % size, size);
    if (!path) {
      state.SkipWithError(path.error().ToString().c_str());
      break;
    }
    path_hashes += static_cast<double>(path->size());
    benchmark::DoNotOptimize(path);
  }
  // The mean over the random leaves asked for.
  state.counters["path_hashes"] =
      benchmark::Counter(path_hashes, benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_AccumulatorInclusionProof)
    ->ArgName("leaves")
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000);

void BM_AccumulatorVerifyInclusion(benchmark::State& state) {
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  ledger::Accumulator acc(BigTree(), size);
  const uint64_t leaf = size / 3;
  const auto path = acc.InclusionProof(leaf, size);
  const auto leaf_hash = BigTree().GetNode(0, leaf);
  const Hash32 root = acc.Root();
  if (!path || !leaf_hash || !lp::VerifyInclusion(leaf, size, *leaf_hash, *path, root)) {
    state.SkipWithError("the inclusion proof does not verify");
    return;
  }
  for (auto _ : state) {
    bool ok = lp::VerifyInclusion(leaf, size, *leaf_hash, *path, root);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_AccumulatorVerifyInclusion)
    ->ArgName("leaves")
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000);

// The consistency proof from a random smaller tree to the tree of range(0) leaves.
void BM_AccumulatorConsistencyProof(benchmark::State& state) {
  const uint64_t size = static_cast<uint64_t>(state.range(0));
  ledger::Accumulator acc(BigTree(), size);
  std::mt19937_64 rng(11);
  double path_hashes = 0;
  for (auto _ : state) {
    auto path = acc.ConsistencyProof(1 + rng() % (size - 1), size);
    if (!path) {
      state.SkipWithError(path.error().ToString().c_str());
      break;
    }
    path_hashes += static_cast<double>(path->size());
    benchmark::DoNotOptimize(path);
  }
  // The mean over the random first sizes asked for.
  state.counters["path_hashes"] =
      benchmark::Counter(path_hashes, benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_AccumulatorConsistencyProof)
    ->ArgName("leaves")
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000);

// ---------------------------------------------------------------- a real ledger

// A Ledger on RocksDB in a temp dir, one validator and one administrator, with the members
// of the custody chain, a green site CD-1 and tags: what the rule and block benchmarks run on.
class BenchLedger {
 public:
  static constexpr uint64_t kLotGrams = 1000;
  static constexpr uint32_t kTagsPerAllocation = 10'000;

  BenchLedger() : dir_("ledger") {
    genesis_.set_chain_id(kChainId);
    genesis_.set_genesis_time_ms(kGenesisMs);
    auto* v = genesis_.add_validators();
    v->set_key(KeyStr(validator_));
    v->set_name("validator-0");
    auto* a = genesis_.add_administrators();
    a->set_key(KeyStr(admin_));
    a->set_name("secretariat");
    auto l = ledger::Ledger::Open(dir_.path(), genesis_);
    if (!l) {
      error_ = l.error().ToString();
      return;
    }
    ledger_ = std::move(*l);
    Commit({Member(agent_, "agent", v1::ROLE_AGENT), Member(coop_, "coop", v1::ROLE_COOPERATIVE),
            Member(processor_, "processor", v1::ROLE_PROCESSOR)});
    auto site = Body();
    auto* s = site.mutable_register_mine_site();
    s->set_site_id("CD-1");
    s->set_name("Site CD-1");
    s->set_country("CD");
    s->add_minerals(v1::MINERAL_CASSITERITE);
    s->set_status(v1::SITE_STATUS_GREEN);
    s->set_production_estimate_kg_per_month(100'000'000);
    Commit({lp::SignTx(site, admin_)});
    Commit({Allocation(agent_, "T", v1::TAG_KIND_MINE),
            Allocation(processor_, "P", v1::TAG_KIND_PROCESSOR)});
  }

  // Empty when set up; else what went wrong (the benchmark skips with it).
  const std::string& error() const { return error_; }
  ledger::Ledger& ledger() { return *ledger_; }
  int64_t now_ms() const { return now_ms_; }

  v1::TxBody Body() {
    v1::TxBody b;
    b.set_chain_id(kChainId);
    b.set_nonce(++nonce_);
    b.set_created_at_ms(now_ms_);
    return b;
  }
  v1::SignedTx Member(const crypto::PrivateKey& who, const std::string& name, v1::Role role) {
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(KeyStr(who));
    a->set_name(name);
    a->add_roles(role);
    a->set_country("CD");
    return lp::SignTx(b, admin_);
  }
  // Tags kTagsPerAllocation at a time; mine tags are of site CD-1.
  v1::SignedTx Allocation(const crypto::PrivateKey& to, const std::string& prefix,
                          v1::TagKind kind) {
    uint64_t& next = prefix == "T" ? next_mine_tag_allocated_ : next_proc_tag_allocated_;
    auto b = Body();
    auto* t = b.mutable_allocate_tags();
    if (kind != v1::TAG_KIND_PROCESSOR) t->set_site_id("CD-1");
    t->set_agent_key(KeyStr(to));
    t->set_prefix(prefix);
    t->set_first(next);
    t->set_count(kTagsPerAllocation);
    t->set_kind(kind);
    next += kTagsPerAllocation;
    return lp::SignTx(b, admin_);
  }
  v1::TxBody RecordBody(const std::string& tag) {
    auto b = Body();
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id(tag);
    a->set_site_id("CD-1");
    a->set_mineral(v1::MINERAL_CASSITERITE);
    a->set_weight_grams(kLotGrams);
    a->set_grade_basis_points(6500);
    a->set_producer_key(KeyStr(coop_));
    return b;
  }
  v1::TxBody DispatchBody(const std::string& lot) {
    auto b = Body();
    b.mutable_dispatch_lots()->add_lot_ids(lot);
    b.mutable_dispatch_lots()->set_receiver_key(KeyStr(processor_));
    return b;
  }
  v1::TxBody ReceiveBody(const std::string& lot) {
    auto b = Body();
    auto* r = b.mutable_receive_lots()->add_lots();
    r->set_lot_id(lot);
    r->set_weight_grams(kLotGrams);
    return b;
  }
  v1::TxBody MergeBody(const std::vector<std::string>& inputs, const std::string& output) {
    auto b = Body();
    auto* a = b.mutable_process_lots();
    a->set_kind(v1::PROCESSING_KIND_MERGE);
    for (const auto& in : inputs) a->add_input_lot_ids(in);
    auto* o = a->add_outputs();
    o->set_tag_id(output);
    o->set_weight_grams(kLotGrams * inputs.size() * 9 / 10);
    o->set_grade_basis_points(6500);
    return b;
  }
  std::string NextMineTag() {
    if (mine_tags_used_ + 1 >= next_mine_tag_allocated_) {
      Commit({Allocation(agent_, "T", v1::TAG_KIND_MINE)});
    }
    return TagId("T", ++mine_tags_used_);
  }
  std::string NextProcessorTag() {
    if (proc_tags_used_ + 1 >= next_proc_tag_allocated_) {
      Commit({Allocation(processor_, "P", v1::TAG_KIND_PROCESSOR)});
    }
    return TagId("P", ++proc_tags_used_);
  }

  ledger::BlockToExecute NextBlock(std::vector<v1::SignedTx> txs) {
    ledger::BlockToExecute block;
    block.height = ++blocks_made_;
    block.round = block.height;
    block.time_ms = now_ms_;
    block.proposer_key = KeyStr(validator_);
    block.txs = std::move(txs);
    now_ms_ += 1000;
    return block;
  }

  // Executes and commits a block made by NextBlock; every tx must commit OK (a refused tx
  // would measure the refusal path, not custody). Returns false, with error(), otherwise.
  bool Execute(const ledger::BlockToExecute& block, bool trust_signatures) {
    auto done = ledger_->ExecuteAndCommit(
        block, validator_,
        [trust_signatures](const Hash32&, const v1::SignedTx&) { return trust_signatures; });
    if (!done) {
      error_ = done.error().ToString();
      return false;
    }
    if (!done->skipped.empty()) {
      error_ = "a tx was skipped: " + done->skipped[0].reason;
      return false;
    }
    for (const auto& t : done->txs) {
      if (t.receipt.status() != v1::TX_STATUS_OK) {
        error_ = "a tx was refused: " + t.receipt.error_code() + ": " + t.receipt.reason();
        return false;
      }
    }
    return true;
  }
  bool Commit(std::vector<v1::SignedTx> txs) {
    return Execute(NextBlock(std::move(txs)), /*trust_signatures=*/false);
  }

  crypto::PrivateKey validator_ = KeyFromSeed(1);
  crypto::PrivateKey admin_ = KeyFromSeed(2);
  crypto::PrivateKey agent_ = KeyFromSeed(3);
  crypto::PrivateKey coop_ = KeyFromSeed(4);
  crypto::PrivateKey processor_ = KeyFromSeed(8);

 private:
  TempDir dir_;
  v1::Genesis genesis_;
  std::unique_ptr<ledger::Ledger> ledger_;
  std::string error_;
  int64_t now_ms_ = kGenesisMs + 1000;
  uint64_t nonce_ = 0;
  uint64_t blocks_made_ = 0;
  uint64_t next_mine_tag_allocated_ = 1;
  uint64_t next_proc_tag_allocated_ = 1;
  uint64_t mine_tags_used_ = 0;
  uint64_t proc_tags_used_ = 0;
};

// ---------------------------------------------------------------- rules, per action kind

enum class ActionKind : int64_t {
  kRegisterMember,
  kRegisterMineSite,
  kAllocateTags,
  kRecordMineLot,
  kDispatchLots,
  kReceiveLots,
  kProcessLots,
  kReportIncident,
};

// One committed state for every kind: a lot held by the cooperative (to dispatch), one in
// transit to the processor (to receive), three held by the processor (to merge).
struct RuleState {
  BenchLedger ledger;
  std::string held_by_coop, in_transit, merge_inputs[3];

  RuleState() {
    if (!ledger.error().empty()) return;
    held_by_coop = ledger.NextMineTag();
    in_transit = ledger.NextMineTag();
    for (auto& t : merge_inputs) t = ledger.NextMineTag();
    std::vector<v1::SignedTx> records;
    for (const auto* tag :
         {&held_by_coop, &in_transit, &merge_inputs[0], &merge_inputs[1], &merge_inputs[2]}) {
      records.push_back(lp::SignTx(ledger.RecordBody(*tag), ledger.agent_));
    }
    if (!ledger.Commit(std::move(records))) return;
    std::vector<v1::SignedTx> dispatches;
    for (const auto* tag : {&in_transit, &merge_inputs[0], &merge_inputs[1], &merge_inputs[2]}) {
      dispatches.push_back(lp::SignTx(ledger.DispatchBody(*tag), ledger.coop_));
    }
    if (!ledger.Commit(std::move(dispatches))) return;
    std::vector<v1::SignedTx> receipts;
    for (const auto& tag : merge_inputs) {
      receipts.push_back(lp::SignTx(ledger.ReceiveBody(tag), ledger.processor_));
    }
    ledger.Commit(std::move(receipts));
  }
};

// The body and signer of one tx of `kind` that commits OK on RuleState.
std::pair<v1::TxBody, std::string> ActionOf(ActionKind kind, RuleState& s) {
  BenchLedger& l = s.ledger;
  v1::TxBody b = l.Body();
  switch (kind) {
    case ActionKind::kRegisterMember: {
      auto* a = b.mutable_register_member();
      a->set_member_key(KeyStr(KeyFromSeed(50)));
      a->set_name("trader");
      a->add_roles(v1::ROLE_TRADER);
      a->set_country("CD");
      return {b, KeyStr(l.admin_)};
    }
    case ActionKind::kRegisterMineSite: {
      auto* a = b.mutable_register_mine_site();
      a->set_site_id("CD-2");
      a->set_name("Site CD-2");
      a->set_country("CD");
      a->add_minerals(v1::MINERAL_COLTAN);
      a->set_status(v1::SITE_STATUS_GREEN);
      a->set_production_estimate_kg_per_month(1000);
      return {b, KeyStr(l.admin_)};
    }
    case ActionKind::kAllocateTags: {
      auto* a = b.mutable_allocate_tags();
      a->set_site_id("CD-1");
      a->set_agent_key(KeyStr(l.agent_));
      a->set_prefix("U");
      a->set_first(1);
      a->set_count(100);
      return {b, KeyStr(l.admin_)};
    }
    case ActionKind::kRecordMineLot:
      return {l.RecordBody(l.NextMineTag()), KeyStr(l.agent_)};
    case ActionKind::kDispatchLots:
      return {l.DispatchBody(s.held_by_coop), KeyStr(l.coop_)};
    case ActionKind::kReceiveLots:
      return {l.ReceiveBody(s.in_transit), KeyStr(l.processor_)};
    case ActionKind::kProcessLots:
      return {l.MergeBody({s.merge_inputs[0], s.merge_inputs[1], s.merge_inputs[2]},
                          l.NextProcessorTag()),
              KeyStr(l.processor_)};
    case ActionKind::kReportIncident: {
      auto* a = b.mutable_report_incident();
      a->set_subject_kind(v1::INCIDENT_SUBJECT_SITE);
      a->set_subject_id("CD-1");
      a->set_category(v1::INCIDENT_CATEGORY_ARMED_GROUPS);
      a->set_level(2);
      a->set_description("armed men seen taxing diggers");
      return {b, KeyStr(l.agent_)};
    }
  }
  return {b, ""};
}

// ExecuteTx of one tx of a kind on a layer over committed state (RocksDB reads, in the
// block cache after the first iteration), the layer thrown away after each run so every
// iteration executes the same tx on the same state. No signature check, no commit.
void BM_ExecuteTx(benchmark::State& state, ActionKind kind) {
  RuleState s;
  if (!s.ledger.error().empty()) {
    state.SkipWithError(s.ledger.error().c_str());
    return;
  }
  const auto [body, signer] = ActionOf(kind, s);
  const auto base = s.ledger.ledger().NewPendingState();
  const ledger::BlockContext ctx{kChainId, s.ledger.ledger().head().height() + 1,
                                 s.ledger.now_ms()};
  {
    ledger::StateView layer(*base);
    auto first = ledger::ExecuteTx(layer, ctx, body, signer);
    if (!first) {
      state.SkipWithError(("the tx is refused: " + first.error().ToString()).c_str());
      return;
    }
  }
  for (auto _ : state) {
    ledger::StateView layer(*base);
    auto effects = ledger::ExecuteTx(layer, ctx, body, signer);
    benchmark::DoNotOptimize(effects);
  }
}
BENCHMARK_CAPTURE(BM_ExecuteTx, RegisterMember, ActionKind::kRegisterMember);
BENCHMARK_CAPTURE(BM_ExecuteTx, RegisterMineSite, ActionKind::kRegisterMineSite);
BENCHMARK_CAPTURE(BM_ExecuteTx, AllocateTags, ActionKind::kAllocateTags);
BENCHMARK_CAPTURE(BM_ExecuteTx, RecordMineLot, ActionKind::kRecordMineLot);
BENCHMARK_CAPTURE(BM_ExecuteTx, DispatchLots, ActionKind::kDispatchLots);
BENCHMARK_CAPTURE(BM_ExecuteTx, ReceiveLots, ActionKind::kReceiveLots);
BENCHMARK_CAPTURE(BM_ExecuteTx, ProcessLots, ActionKind::kProcessLots);
BENCHMARK_CAPTURE(BM_ExecuteTx, ReportIncident, ActionKind::kReportIncident);

// ---------------------------------------------------------------- a block of 1000 txs

// A steady flow of the custody chain, one step per block: each block records 300 new mine
// lots, dispatches the 300 recorded in the block before (cooperative -> processor), receives
// the 300 dispatched before, and merges the 300 received before into 100 processor lots:
// 1000 txs, all OK.
class CustodyFlow {
 public:
  static constexpr size_t kPerStep = 300;
  static constexpr size_t kMergeInputs = 3;

  explicit CustodyFlow(BenchLedger& ledger) : l_(ledger) {}

  ledger::BlockToExecute NextBlock() {
    std::vector<v1::SignedTx> txs;
    std::vector<std::string> received, dispatched, recorded;
    // Merge what was received in the block before.
    while (to_merge_.size() >= kMergeInputs) {
      std::vector<std::string> inputs(to_merge_.begin(), to_merge_.begin() + kMergeInputs);
      to_merge_.erase(to_merge_.begin(), to_merge_.begin() + kMergeInputs);
      txs.push_back(lp::SignTx(l_.MergeBody(inputs, l_.NextProcessorTag()), l_.processor_));
    }
    for (const auto& lot : to_receive_) {
      txs.push_back(lp::SignTx(l_.ReceiveBody(lot), l_.processor_));
      received.push_back(lot);
    }
    for (const auto& lot : to_dispatch_) {
      txs.push_back(lp::SignTx(l_.DispatchBody(lot), l_.coop_));
      dispatched.push_back(lot);
    }
    while (txs.size() < 1000) {
      const std::string tag = l_.NextMineTag();
      txs.push_back(lp::SignTx(l_.RecordBody(tag), l_.agent_));
      if (recorded.size() < kPerStep) recorded.push_back(tag);
    }
    to_merge_ = std::move(received);
    to_receive_ = std::move(dispatched);
    to_dispatch_ = std::move(recorded);
    return l_.NextBlock(std::move(txs));
  }

 private:
  BenchLedger& l_;
  std::vector<std::string> to_dispatch_, to_receive_, to_merge_;
};

// Blocks of 1000 custody txs through Ledger::ExecuteAndCommit, one synced RocksDB write each.
// verify:0 -- the node already checked the signatures at admission (signature_checked says
// so), as in a running network; verify:1 -- ExecuteAndCommit checks all 1000. The blocks are
// made and signed before the timed loop; 3 untimed blocks first fill every step of the flow.
void BM_ExecuteAndCommitBlock(benchmark::State& state) {
  const bool verify = state.range(0) != 0;
  const auto blocks = static_cast<size_t>(state.max_iterations);
  BenchLedger l;
  CustodyFlow flow(l);
  for (int warm = 0; warm < 3 && l.error().empty(); ++warm) {
    l.Execute(flow.NextBlock(), /*trust_signatures=*/true);
  }
  std::deque<ledger::BlockToExecute> made;
  for (size_t i = 0; i < blocks && l.error().empty(); ++i) made.push_back(flow.NextBlock());
  if (!l.error().empty()) {
    state.SkipWithError(l.error().c_str());
    return;
  }
  for (auto _ : state) {
    if (!l.Execute(made.front(), /*trust_signatures=*/!verify)) {
      state.SkipWithError(l.error().c_str());
      break;
    }
    made.pop_front();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}
// A fixed number of blocks: each is made (and signed) in advance.
BENCHMARK(BM_ExecuteAndCommitBlock)
    ->ArgName("verify")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The filler of tests/bench/proof_bench (FillTo) step by step, to see where its ~250 us per
// tx goes: per iteration 1000 RegisterMineSite txs are made and signed with SignTx (fresh
// randomness), then committed as one block whose signatures are trusted, as FillTo does.
// Counters split each tx's cost between the two, in wall and in thread CPU time.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void BM_ProofBenchFillerBlock(benchmark::State& state) {
  BenchLedger l;
  if (!l.error().empty()) {
    state.SkipWithError(l.error().c_str());
    return;
  }
  double sign_wall = 0, sign_cpu = 0, commit_wall = 0, commit_cpu = 0;
  uint64_t fillers = 0;
  for (auto _ : state) {
    const double w0 = WallSeconds(), c0 = ThreadCpuSeconds();
    std::vector<v1::SignedTx> txs;
    txs.reserve(1000);
    for (int i = 0; i < 1000; ++i) {
      auto b = l.Body();
      auto* site = b.mutable_register_mine_site();
      site->set_site_id("F-" + std::to_string(++fillers));
      site->set_name("Filler site");
      site->set_country("CD");
      site->add_minerals(v1::MINERAL_COLTAN);
      site->set_status(v1::SITE_STATUS_GREEN);
      site->set_production_estimate_kg_per_month(1000);
      txs.push_back(lp::SignTx(b, l.admin_));
    }
    const double w1 = WallSeconds(), c1 = ThreadCpuSeconds();
    if (!l.Execute(l.NextBlock(std::move(txs)), /*trust_signatures=*/true)) {
      state.SkipWithError(l.error().c_str());
      break;
    }
    const double w2 = WallSeconds(), c2 = ThreadCpuSeconds();
    sign_wall += w1 - w0;
    sign_cpu += c1 - c0;
    commit_wall += w2 - w1;
    commit_cpu += c2 - c1;
  }
  const double txs = 1000.0 * static_cast<double>(state.iterations());
  state.counters["make_sign_us_per_tx"] = 1e6 * sign_wall / txs;
  state.counters["make_sign_cpu_us_per_tx"] = 1e6 * sign_cpu / txs;
  state.counters["commit_us_per_tx"] = 1e6 * commit_wall / txs;
  state.counters["commit_cpu_us_per_tx"] = 1e6 * commit_cpu / txs;
  state.SetItemsProcessed(static_cast<int64_t>(txs));
}
BENCHMARK(BM_ProofBenchFillerBlock)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---------------------------------------------------------------- RocksDB

std::string EntryValue(uint64_t i) {
  // About the size of a receipt or a lot record.
  std::string v(200, 'v');
  for (size_t k = 0; k < 8; ++k) v[k] = static_cast<char>(i >> (8 * k));
  return v;
}

// 1000 new entries (24-byte keys, 200-byte values) in one WriteBatch with sync, on default
// RocksDB options: the floor of a block's commit.
void BM_RocksDbSyncedBatch(benchmark::State& state) {
  TempDir dir("rocksdb");
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status open = rocksdb::DB::Open(options, dir.path().string(), &raw);
  if (!open.ok()) {
    state.SkipWithError(open.ToString().c_str());
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  uint64_t next = 0;
  const size_t entries = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    rocksdb::WriteBatch batch;
    for (size_t i = 0; i < entries; ++i, ++next) {
      char key[32];
      std::snprintf(key, sizeof key, "entry/%016llx", static_cast<unsigned long long>(next));
      batch.Put(key, EntryValue(next));
    }
    const rocksdb::Status s = db->Write(sync, &batch);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * entries));
}
BENCHMARK(BM_RocksDbSyncedBatch)
    ->ArgName("entries")
    ->Arg(1)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same through the ledger's Store::Commit (its column families and options). random:0 --
// keys in commit order, as the txs and accumulator columns get them; random:1 -- keys at
// random places, sorted within the batch as a block's writes are (lots, index entries, tx
// ids). The CPU column is the inserts into the memtable (the sync is a wait).
void BM_StoreCommit1000(benchmark::State& state) {
  const bool random = state.range(0) != 0;
  TempDir dir("store");
  auto store = ledger::Store::Open(dir.path());
  if (!store) {
    state.SkipWithError(store.error().ToString().c_str());
    return;
  }
  std::mt19937_64 rng(7);
  uint64_t next = 0;
  for (auto _ : state) {
    std::vector<ledger::StoreWrite> writes;
    writes.reserve(1000);
    for (size_t i = 0; i < 1000; ++i, ++next) {
      writes.push_back({ledger::Column::kState,
                        "entry/" + ledger::keys::Be64(random ? rng() : next), EntryValue(next)});
    }
    std::sort(writes.begin(), writes.end(),
              [](const auto& a, const auto& b) { return a.key < b.key; });
    auto done = (*store)->Commit(writes);
    if (!done) {
      state.SkipWithError(done.error().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}
BENCHMARK(BM_StoreCommit1000)
    ->ArgName("random")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace minetrace::bench
