// Provenance proof benchmark (issue 6): bundle size, inclusion path length, build time and
// offline verify time, against the size of the upstream graph (1, 10, 100, 1000 txs) and of
// the ledger (10^3 .. 10^6 leaves, 10^7 with --max-leaves). Not a test: it prints a table.
// Method: a real Ledger on RocksDB in a temp dir with a genesis of 4 validators whose keys
// the program holds. Each graph is a processor lot merged from k mine lots (record, dispatch,
// receive each, then the merge: 3k+1 txs; the graph of 1 tx is a lone mine lot). Filler txs
// (admin registers a mine site) grow the ledger to each size; the program then signs a QC
// over a consensus header naming the head's root, builds every bundle with the node's
// builder and verifies it with ledger/proof's verifier (median of --runs runs).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "bench_ledger.h"

namespace minetrace {
namespace {

namespace lp = ledger::proof;
using bench::Clock;
using bench::Die;
using bench::KeyFromSeed;
using bench::KeyStr;
using bench::Seconds;
using bench::TagId;

constexpr size_t kFillerPerBlock = 1000;

class Bench {
 public:
  explicit Bench(const std::filesystem::path& dir) : ledger_(dir, "bench-chain") {}

  uint64_t leaves() const { return ledger_.leaves(); }

  void SetUp() {
    Commit({Member(agent_, "agent", v1::ROLE_AGENT), Member(coop_, "coop", v1::ROLE_COOPERATIVE),
            Member(processor_, "processor", v1::ROLE_PROCESSOR)});
    auto site = Body();
    auto* s = site.mutable_register_mine_site();
    s->set_site_id("CD-1");
    s->set_name("Site CD-1");
    s->set_country("CD");
    s->add_minerals(v1::MINERAL_CASSITERITE);
    s->set_status(v1::SITE_STATUS_GREEN);
    s->set_production_estimate_kg_per_month(1'000'000);
    Commit({Signed(site, admin())});
    auto mine_tags = Body();
    auto* t = mine_tags.mutable_allocate_tags();
    t->set_site_id("CD-1");
    t->set_agent_key(KeyStr(agent_));
    t->set_prefix("T");
    t->set_first(1);
    t->set_count(kMaxTagsPerBench);
    auto proc_tags = Body();
    auto* p = proc_tags.mutable_allocate_tags();
    p->set_agent_key(KeyStr(processor_));
    p->set_prefix("P");
    p->set_first(1);
    p->set_count(100);
    p->set_kind(v1::TAG_KIND_PROCESSOR);
    Commit({Signed(mine_tags, admin()), Signed(proc_tags, admin())});
  }

  // Commits the graph of `txs` (1 or 3k+1) txs and returns the lot whose bundle holds it.
  std::string AddGraph(size_t txs) {
    if (txs == 1) {
      std::string tag = TagId("T", ++mine_tags_used_);
      Commit({Record(tag)});
      return tag;
    }
    if ((txs - 1) % 3 != 0) Die("a graph has 1 or 3k+1 txs");
    const size_t k = (txs - 1) / 3;
    std::vector<std::string> tags;
    for (size_t i = 0; i < k; ++i) tags.push_back(TagId("T", ++mine_tags_used_));
    // One step per block over all k lots: records, then dispatches, then receipts.
    std::vector<v1::SignedTx> block;
    for (const auto& tag : tags) block.push_back(Record(tag));
    Commit(std::move(block));
    for (const auto& tag : tags) {
      auto b = Body();
      b.mutable_dispatch_lots()->add_lot_ids(tag);
      b.mutable_dispatch_lots()->set_receiver_key(KeyStr(processor_));
      block.push_back(Signed(b, coop_));
    }
    Commit(std::move(block));
    for (const auto& tag : tags) {
      auto b = Body();
      auto* r = b.mutable_receive_lots()->add_lots();
      r->set_lot_id(tag);
      r->set_weight_grams(kLotGrams);
      block.push_back(Signed(b, processor_));
    }
    Commit(std::move(block));
    const std::string out = TagId("P", ++proc_tags_used_);
    auto b = Body();
    auto* a = b.mutable_process_lots();
    a->set_kind(v1::PROCESSING_KIND_MERGE);
    for (const auto& tag : tags) a->add_input_lot_ids(tag);
    auto* o = a->add_outputs();
    o->set_tag_id(out);
    o->set_weight_grams(kLotGrams * k * 9 / 10);
    o->set_grade_basis_points(6500);
    Commit({Signed(b, processor_)});
    return out;
  }

  // Filler txs (OK: the admin registers a mine site each) until the ledger holds `target`
  // leaves. Their signatures are made here and not checked again, as a node skips the check
  // for txs it admitted.
  void FillTo(uint64_t target) {
    while (leaves() < target) {
      const uint64_t n = std::min<uint64_t>(kFillerPerBlock, target - leaves());
      std::vector<v1::SignedTx> block;
      block.reserve(n);
      for (uint64_t i = 0; i < n; ++i) {
        auto b = Body();
        auto* s = b.mutable_register_mine_site();
        s->set_site_id("F-" + std::to_string(++fillers_));
        s->set_name("Filler site");
        s->set_country("CD");
        s->add_minerals(v1::MINERAL_COLTAN);
        s->set_status(v1::SITE_STATUS_GREEN);
        s->set_production_estimate_kg_per_month(1000);
        block.push_back(Signed(b, admin()));
      }
      Commit(std::move(block), /*trust_signatures=*/true);
    }
  }

  void CertifyHead() { ledger_.CertifyHead(); }
  v1::ProvenanceProof Build(const std::string& lot) const { return ledger_.Build(lot); }
  const v1::Genesis& genesis() const { return ledger_.genesis(); }

 private:
  static constexpr uint64_t kLotGrams = 1000;
  static constexpr uint32_t kMaxTagsPerBench = 10000;

  const crypto::PrivateKey& admin() const { return ledger_.admin(); }
  v1::TxBody Body() { return ledger_.Body(); }
  v1::SignedTx Signed(const v1::TxBody& body, const crypto::PrivateKey& key) {
    return lp::SignTx(body, key);
  }
  v1::SignedTx Member(const crypto::PrivateKey& who, const std::string& name, v1::Role role) {
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(KeyStr(who));
    a->set_name(name);
    a->add_roles(role);
    a->set_country("CD");
    return Signed(b, admin());
  }
  v1::SignedTx Record(const std::string& tag) {
    auto b = Body();
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id(tag);
    a->set_site_id("CD-1");
    a->set_mineral(v1::MINERAL_CASSITERITE);
    a->set_weight_grams(kLotGrams);
    a->set_grade_basis_points(6500);
    a->set_producer_key(KeyStr(coop_));
    return Signed(b, agent_);
  }
  void Commit(std::vector<v1::SignedTx> txs, bool trust_signatures = false) {
    ledger_.Commit(std::move(txs), trust_signatures);
  }

  bench::BenchLedger ledger_;
  crypto::PrivateKey agent_ = KeyFromSeed(3);
  crypto::PrivateKey coop_ = KeyFromSeed(4);
  crypto::PrivateKey processor_ = KeyFromSeed(8);
  uint64_t mine_tags_used_ = 0;
  uint64_t proc_tags_used_ = 0;
  uint64_t fillers_ = 0;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int Run(uint64_t max_leaves, int runs, const std::filesystem::path& dir) {
  Bench bench(dir);
  bench.SetUp();
  const std::vector<size_t> graph_sizes = {1, 10, 100, 1000};
  std::vector<std::pair<size_t, std::string>> graphs;  // (txs, lot) committed so far
  size_t next_graph = 0;
  std::printf("%12s %8s %12s %10s %12s %12s\n", "ledger_leaves", "graph_txs", "bundle_bytes",
              "path_len", "build_ms", "verify_ms");
  for (uint64_t size = 1000; size <= max_leaves; size *= 10) {
    // Every graph that fits below this size with room for the others' filler goes in now.
    while (next_graph < graph_sizes.size() &&
           bench.leaves() + graph_sizes[next_graph] + 10 <= size) {
      graphs.emplace_back(graph_sizes[next_graph], bench.AddGraph(graph_sizes[next_graph]));
      ++next_graph;
    }
    const auto fill_start = Clock::now();
    const uint64_t before = bench.leaves();
    bench.FillTo(size);
    const double fill_s = Seconds(Clock::now() - fill_start);
    std::fprintf(stderr, "filled %llu -> %llu leaves in %.1f s (%.1f us/leaf)\n",
                 static_cast<unsigned long long>(before),
                 static_cast<unsigned long long>(bench.leaves()), fill_s,
                 1e6 * fill_s / static_cast<double>(std::max<uint64_t>(1, bench.leaves() - before)));
    bench.CertifyHead();
    for (const auto& [txs, lot] : graphs) {
      std::vector<double> build_ms, verify_ms;
      v1::ProvenanceProof bundle;
      for (int r = 0; r < runs; ++r) {
        auto t0 = Clock::now();
        bundle = bench.Build(lot);
        build_ms.push_back(1e3 * Seconds(Clock::now() - t0));
        t0 = Clock::now();
        auto v = lp::VerifyProvenanceProof(bundle, bench.genesis());
        verify_ms.push_back(1e3 * Seconds(Clock::now() - t0));
        if (!v) Die("the bundle of " + lot + " does not verify: " + v.error().message);
        if (v->tx_count != txs) {
          Die("the bundle of " + lot + " holds " + std::to_string(v->tx_count) + " txs, not " +
              std::to_string(txs));
        }
      }
      size_t max_path = 0;
      for (const auto& t : bundle.txs()) max_path = std::max<size_t>(max_path, t.inclusion_path_size());
      std::printf("%12llu %8zu %12zu %10zu %12.3f %12.3f\n",
                  static_cast<unsigned long long>(bench.leaves()), txs, bundle.ByteSizeLong(),
                  max_path, Median(build_ms), Median(verify_ms));
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace minetrace

int main(int argc, char** argv) {
  uint64_t max_leaves = 1'000'000;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--max-leaves=", 0) == 0) {
      max_leaves = std::stoull(arg.substr(13));
    } else if (arg.rfind("--runs=", 0) == 0) {
      runs = std::max(1, std::stoi(arg.substr(7)));
    } else {
      std::fprintf(stderr,
                   "usage: proof_bench [--max-leaves=N (1000..10^7, default 10^6)] "
                   "[--runs=N (default 5)]\n");
      return 2;
    }
  }
  minetrace::bench::ProgramName() = "proof_bench";
  const auto dir = std::filesystem::temp_directory_path() /
                   ("minetrace-proof-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const int rc = minetrace::Run(max_leaves, runs, dir);
  std::filesystem::remove_all(dir);
  return rc;
}
