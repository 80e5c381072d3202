// Growth benchmark (issue 7, acceptance 3): how query latency, provenance bundles, disk and
// memory change as the ledger grows from 10^4 to 10^7 committed txs. Not a test: it prints
// tables (docs/PERFORMANCE.md, "Growth").
// Method: a real Ledger on RocksDB (bench_ledger.h) filled through Ledger::ExecuteAndCommit
// in blocks of 1000 custody txs: 100 mine sites with their agents, cooperatives, tag series
// (allocated 500 at a time as they run low), 10 traders and 10 processors. Most txs record
// mine lots; one mine lot in 5 travels (cooperative -> trader -> processor, each leg a
// dispatch and a receipt), processors merge 20 received lots into one, and one merged lot in 5
// is split in two. One receipt in 200 weighs 5 % short and raises a receipt_weight_mismatch
// flag. Every tx is signed by its member's key, in the thread that prepares the next block
// while the current one commits; signatures are not checked again at execution (as a node
// skips the check for txs it admitted), so the fill rate is that of execution and commit.
// At each checkpoint (10^4, 10^5, ... committed txs up to --max-txs) it times each query over
// --samples random existing lots (fixed seed), builds and verifies provenance bundles of a
// lone mine lot (1 tx) and of a merged lot (about 100 txs), and reads the data directory's
// size and the process's RSS.
// With --rpc=HOST:PORT the same queries (same seed and head: the same lots, filters and
// cursors) go over gRPC to a node serving a copy of a filled directory (growth_rpc.sh starts
// one), and their wall time is the client's view. --write-genesis gives such a node its
// genesis; --write-sample writes the queries' arguments, one line each, for any other client.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <random>
#include <string>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <rocksdb/perf_context.h>
#include <rocksdb/perf_level.h>

#include "bench_ledger.h"
#include "minetrace/ledger/proof/genesis.h"
#include "minetrace/v1/node.grpc.pb.h"

namespace minetrace {
namespace {

namespace lp = ledger::proof;
using bench::Clock;
using bench::Die;
using bench::KeyFromSeed;
using bench::KeyStr;
using bench::Seconds;
using bench::TagId;

// The shape of the workload (see the header comment).
constexpr uint32_t kSites = 100;
constexpr uint32_t kAgents = 20;
constexpr uint32_t kCoops = 40;
constexpr uint32_t kTraders = 10;
constexpr uint32_t kProcessors = 10;
constexpr uint32_t kTagChunk = 500;
constexpr size_t kMergeInputs = 20;
constexpr uint64_t kTravelOneIn = 5;
constexpr uint64_t kSplitOneIn = 5;
constexpr uint64_t kShortReceiptOneIn = 200;
constexpr size_t kBlockTxs = 1000;
constexpr size_t kPageSize = 100;          // the node's default page size
constexpr size_t kSitePageSize = 50;       // a site's list holds about 66 lots at 10^4
constexpr uint32_t kCoopsWithThreeSites = kSites - 2 * kCoops;  // cooperative c: c, c+40, c+80
constexpr size_t kHistoryLimit = 10'000;   // the node's GetLotHistory limit
constexpr uint64_t kFirstCheckpoint = 10'000;

// A fixed pseudo-random 64-bit value per input (splitmix64): the workload depends on the lot
// number only, never on the order blocks were prepared in.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string Numbered(const char* format, uint32_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, n);
  return buf;
}

// A lot on its way, with what the next step needs to know.
struct LotInHand {
  std::string lot_id;
  uint64_t grams = 0;
  uint32_t grade = 0;
  uint32_t coop = 0;
  uint32_t trader = 0;
  uint32_t processor = 0;
};

// Makes the blocks: the members, sites and tags first, then custody blocks of any size.
// Lots move one step per block at most: a step uses only lots whose previous step was in an
// earlier block (each queue is consumed up to its length when the block began).
class Workload {
 public:
  explicit Workload(std::string chain_id) : chain_id_(std::move(chain_id)) {
    for (uint32_t i = 0; i < kAgents; ++i) agents_.push_back(KeyFromSeed(1000 + i));
    for (uint32_t i = 0; i < kCoops; ++i) coops_.push_back(KeyFromSeed(2000 + i));
    for (uint32_t i = 0; i < kTraders; ++i) traders_.push_back(KeyFromSeed(3000 + i));
    for (uint32_t i = 0; i < kProcessors; ++i) processors_.push_back(KeyFromSeed(4000 + i));
    site_tags_allocated_.assign(kSites, 0);
    site_tags_used_.assign(kSites, 0);
    proc_tags_allocated_.assign(kProcessors, 0);
    proc_tags_used_.assign(kProcessors, 0);
    merge_pool_.resize(kProcessors);
  }

  // Three blocks: the members, the sites, the first tag series of each site and processor.
  std::vector<std::vector<v1::SignedTx>> SetUpBlocks(const crypto::PrivateKey& admin,
                                                     int64_t first_block_ms) {
    std::vector<std::vector<v1::SignedTx>> blocks(3);
    auto member = [&](const crypto::PrivateKey& who, const std::string& name, v1::Role role) {
      auto b = Body(first_block_ms);
      auto* a = b.mutable_register_member();
      a->set_member_key(KeyStr(who));
      a->set_name(name);
      a->add_roles(role);
      a->set_country("CD");
      blocks[0].push_back(Sign(b, admin));
    };
    for (uint32_t i = 0; i < kAgents; ++i) member(agents_[i], Numbered("agent %u", i), v1::ROLE_AGENT);
    for (uint32_t i = 0; i < kCoops; ++i) {
      member(coops_[i], Numbered("cooperative %u", i), v1::ROLE_COOPERATIVE);
    }
    for (uint32_t i = 0; i < kTraders; ++i) {
      member(traders_[i], Numbered("trader %u", i), v1::ROLE_TRADER);
    }
    for (uint32_t i = 0; i < kProcessors; ++i) {
      member(processors_[i], Numbered("processor %u", i), v1::ROLE_PROCESSOR);
    }
    for (uint32_t s = 0; s < kSites; ++s) {
      auto b = Body(first_block_ms + bench::kBlockIntervalMs);
      auto* a = b.mutable_register_mine_site();
      a->set_site_id(SiteId(s));
      a->set_name("Site " + SiteId(s));
      a->set_country("CD");
      a->add_minerals(v1::MINERAL_CASSITERITE);
      a->set_status(v1::SITE_STATUS_GREEN);
      // Far above what the benchmark tags in a month: no volume flags.
      a->set_production_estimate_kg_per_month(100'000'000);
      blocks[1].push_back(Sign(b, admin));
    }
    const int64_t tags_ms = first_block_ms + 2 * bench::kBlockIntervalMs;
    for (uint32_t s = 0; s < kSites; ++s) blocks[2].push_back(AllocateSiteTags(s, tags_ms, admin));
    for (uint32_t p = 0; p < kProcessors; ++p) {
      blocks[2].push_back(AllocateProcessorTags(p, tags_ms, admin));
    }
    return blocks;
  }

  // The next custody block: `size` txs at `block_ms`.
  std::vector<v1::SignedTx> NextBlock(size_t size, int64_t block_ms,
                                      const crypto::PrivateKey& admin) {
    std::vector<v1::SignedTx> txs;
    txs.reserve(size);
    auto room = [&] { return txs.size() < size; };
    // Tag series before they run out: a site records at most size / kSites lots a block and
    // a processor makes far fewer lots than kTagChunk / 2 a block.
    for (uint32_t s = 0; s < kSites && room(); ++s) {
      if (site_tags_allocated_[s] - site_tags_used_[s] < kTagChunk / 2) {
        txs.push_back(AllocateSiteTags(s, block_ms, admin));
      }
    }
    for (uint32_t p = 0; p < kProcessors && room(); ++p) {
      if (proc_tags_allocated_[p] - proc_tags_used_[p] < kTagChunk / 2) {
        txs.push_back(AllocateProcessorTags(p, block_ms, admin));
      }
    }
    // What each queue held when the block began.
    const size_t ready_dispatch1 = to_dispatch1_.size();
    const size_t ready_receive1 = to_receive1_.size();
    const size_t ready_dispatch2 = to_dispatch2_.size();
    const size_t ready_receive2 = to_receive2_.size();
    const size_t ready_split = to_split_.size();
    std::vector<size_t> ready_pool(kProcessors);
    for (uint32_t p = 0; p < kProcessors; ++p) ready_pool[p] = merge_pool_[p].size();

    for (size_t i = 0; i < ready_receive2 && room(); ++i) {
      LotInHand lot = Pop(to_receive2_);
      txs.push_back(Receive(lot, processors_[lot.processor], block_ms));
      merge_pool_[lot.processor].push_back(std::move(lot));
    }
    for (size_t i = 0; i < ready_dispatch2 && room(); ++i) {
      LotInHand lot = Pop(to_dispatch2_);
      txs.push_back(Dispatch(lot.lot_id, traders_[lot.trader], processors_[lot.processor], block_ms));
      to_receive2_.push_back(std::move(lot));
    }
    for (size_t i = 0; i < ready_receive1 && room(); ++i) {
      LotInHand lot = Pop(to_receive1_);
      txs.push_back(Receive(lot, traders_[lot.trader], block_ms));
      to_dispatch2_.push_back(std::move(lot));
    }
    for (size_t i = 0; i < ready_dispatch1 && room(); ++i) {
      LotInHand lot = Pop(to_dispatch1_);
      txs.push_back(Dispatch(lot.lot_id, coops_[lot.coop], traders_[lot.trader], block_ms));
      to_receive1_.push_back(std::move(lot));
    }
    for (size_t i = 0; i < ready_split && room(); ++i) {
      txs.push_back(Split(Pop(to_split_), block_ms));
    }
    for (uint32_t p = 0; p < kProcessors; ++p) {
      while (ready_pool[p] >= kMergeInputs && room()) {
        ready_pool[p] -= kMergeInputs;
        txs.push_back(Merge(p, block_ms));
      }
    }
    while (room()) txs.push_back(Record(block_ms));
    return txs;
  }

  void set_replaying(bool replaying) { replaying_ = replaying; }

  // ---- what the measurements sample ----
  uint64_t lot_count() const { return mine_lots_ + processed_.size(); }
  uint64_t mine_lots() const { return mine_lots_; }
  // Lot number i of all lots: mine lots first, then processed lots in the order made.
  std::string LotId(uint64_t i) const {
    return i < mine_lots_ ? MineLotId(i) : processed_[i - mine_lots_];
  }
  std::string MineLotId(uint64_t k) const {
    return TagId(SiteTagPrefix(static_cast<uint32_t>(k % kSites)), k / kSites + 1);
  }
  static bool Travels(uint64_t k) { return Mix(k) % kTravelOneIn == 0; }
  static std::string SiteId(uint32_t s) { return Numbered("CD-%03u", s); }
  // The members that hold lots: cooperatives, traders, processors.
  uint32_t holder_count() const { return kCoops + kTraders + kProcessors; }
  std::string HolderKey(uint32_t i) const {
    if (i < kCoops) return KeyStr(coops_[i]);
    if (i < kCoops + kTraders) return KeyStr(traders_[i - kCoops]);
    return KeyStr(processors_[i - kCoops - kTraders]);
  }
  std::string TraderKey(uint32_t i) const { return KeyStr(traders_[i]); }
  // Merged lots that stay whole: their upstream graph is kMergeInputs lots of 5 events each.
  const std::vector<std::string>& merged_whole() const { return merged_whole_; }
  const std::vector<std::string>& processed() const { return processed_; }
  uint64_t short_receipts() const { return short_receipts_; }

 private:
  static std::string SiteTagPrefix(uint32_t s) { return Numbered("T%03u-", s); }
  static std::string ProcessorTagPrefix(uint32_t p) { return Numbered("P%02u-", p); }

  // A replay (--reopen) only rebuilds this object's state: it signs nothing.
  v1::SignedTx Sign(const v1::TxBody& body, const crypto::PrivateKey& key) const {
    return replaying_ ? v1::SignedTx() : lp::SignTx(body, key);
  }

  static LotInHand Pop(std::deque<LotInHand>& q) {
    LotInHand lot = std::move(q.front());
    q.pop_front();
    return lot;
  }

  v1::TxBody Body(int64_t block_ms) {
    v1::TxBody b;
    b.set_chain_id(chain_id_);
    b.set_nonce(++nonce_);
    b.set_created_at_ms(block_ms);
    return b;
  }

  v1::SignedTx AllocateSiteTags(uint32_t s, int64_t block_ms, const crypto::PrivateKey& admin) {
    auto b = Body(block_ms);
    auto* a = b.mutable_allocate_tags();
    a->set_site_id(SiteId(s));
    a->set_agent_key(KeyStr(agents_[s % kAgents]));
    a->set_prefix(SiteTagPrefix(s));
    a->set_first(site_tags_allocated_[s] + 1);
    a->set_count(kTagChunk);
    site_tags_allocated_[s] += kTagChunk;
    return Sign(b, admin);
  }
  v1::SignedTx AllocateProcessorTags(uint32_t p, int64_t block_ms,
                                     const crypto::PrivateKey& admin) {
    auto b = Body(block_ms);
    auto* a = b.mutable_allocate_tags();
    a->set_agent_key(KeyStr(processors_[p]));
    a->set_prefix(ProcessorTagPrefix(p));
    a->set_first(proc_tags_allocated_[p] + 1);
    a->set_count(kTagChunk);
    a->set_kind(v1::TAG_KIND_PROCESSOR);
    proc_tags_allocated_[p] += kTagChunk;
    return Sign(b, admin);
  }

  v1::SignedTx Record(int64_t block_ms) {
    const uint64_t k = mine_lots_++;
    const uint32_t s = static_cast<uint32_t>(k % kSites);
    const uint64_t n = k / kSites + 1;
    if (n > site_tags_allocated_[s]) Die("site " + SiteId(s) + " ran out of tags");
    site_tags_used_[s] = n;
    const uint64_t h = Mix(k);
    LotInHand lot;
    lot.lot_id = MineLotId(k);
    lot.grams = 40'000 + h % 20'000;
    lot.grade = 6000 + static_cast<uint32_t>((h >> 20) % 1000);
    lot.coop = s % kCoops;
    lot.trader = static_cast<uint32_t>((h >> 32) % kTraders);
    lot.processor = static_cast<uint32_t>((h >> 40) % kProcessors);
    auto b = Body(block_ms);
    auto* a = b.mutable_record_mine_lot();
    a->set_tag_id(lot.lot_id);
    a->set_site_id(SiteId(s));
    a->set_mineral(v1::MINERAL_CASSITERITE);
    a->set_weight_grams(lot.grams);
    a->set_grade_basis_points(lot.grade);
    a->set_producer_key(KeyStr(coops_[lot.coop]));
    auto tx = Sign(b, agents_[s % kAgents]);
    if (Travels(k)) to_dispatch1_.push_back(std::move(lot));
    return tx;
  }

  v1::SignedTx Dispatch(const std::string& lot_id, const crypto::PrivateKey& from,
                        const crypto::PrivateKey& to, int64_t block_ms) {
    auto b = Body(block_ms);
    b.mutable_dispatch_lots()->add_lot_ids(lot_id);
    b.mutable_dispatch_lots()->set_receiver_key(KeyStr(to));
    return Sign(b, from);
  }

  // The receiver weighs the lot: the dispatched weight, or 5 % short one time in 200.
  v1::SignedTx Receive(LotInHand& lot, const crypto::PrivateKey& receiver, int64_t block_ms) {
    if (++receipts_ % kShortReceiptOneIn == 0) {
      lot.grams = lot.grams * 95 / 100;
      ++short_receipts_;
    }
    auto b = Body(block_ms);
    auto* r = b.mutable_receive_lots()->add_lots();
    r->set_lot_id(lot.lot_id);
    r->set_weight_grams(lot.grams);
    return Sign(b, receiver);
  }

  std::string NextProcessorTag(uint32_t p) {
    const uint64_t n = ++proc_tags_used_[p];
    if (n > proc_tags_allocated_[p]) Die("processor " + std::to_string(p) + " ran out of tags");
    return TagId(ProcessorTagPrefix(p), n);
  }

  // kMergeInputs lots of processor p's pool into one lot of 90 % of their weight at their
  // weighted grade.
  v1::SignedTx Merge(uint32_t p, int64_t block_ms) {
    auto b = Body(block_ms);
    auto* a = b.mutable_process_lots();
    a->set_kind(v1::PROCESSING_KIND_MERGE);
    uint64_t grams = 0;
    uint64_t contained = 0;
    for (size_t i = 0; i < kMergeInputs; ++i) {
      LotInHand in = Pop(merge_pool_[p]);
      a->add_input_lot_ids(in.lot_id);
      grams += in.grams;
      contained += in.grams * in.grade;
    }
    LotInHand out;
    out.lot_id = NextProcessorTag(p);
    out.grams = grams * 9 / 10;
    out.grade = static_cast<uint32_t>(contained / grams);
    out.processor = p;
    auto* o = a->add_outputs();
    o->set_tag_id(out.lot_id);
    o->set_weight_grams(out.grams);
    o->set_grade_basis_points(out.grade);
    processed_.push_back(out.lot_id);
    if (Mix(processed_.size()) % kSplitOneIn == 0) {
      to_split_.push_back(std::move(out));
    } else {
      merged_whole_.push_back(out.lot_id);
    }
    return Sign(b, processors_[p]);
  }

  // A merged lot into two of the same grade whose weights sum to its own.
  v1::SignedTx Split(const LotInHand& in, int64_t block_ms) {
    auto b = Body(block_ms);
    auto* a = b.mutable_process_lots();
    a->set_kind(v1::PROCESSING_KIND_SPLIT);
    a->add_input_lot_ids(in.lot_id);
    for (uint64_t grams : {in.grams / 2, in.grams - in.grams / 2}) {
      auto* o = a->add_outputs();
      o->set_tag_id(NextProcessorTag(in.processor));
      o->set_weight_grams(grams);
      o->set_grade_basis_points(in.grade);
      processed_.push_back(o->tag_id());
    }
    return Sign(b, processors_[in.processor]);
  }

  std::string chain_id_;
  bool replaying_ = false;
  uint64_t nonce_ = 1'000'000'000;  // apart from BenchLedger::Body's nonces
  std::vector<crypto::PrivateKey> agents_, coops_, traders_, processors_;
  std::vector<uint64_t> site_tags_allocated_, site_tags_used_;
  std::vector<uint64_t> proc_tags_allocated_, proc_tags_used_;
  uint64_t mine_lots_ = 0;
  uint64_t receipts_ = 0;
  uint64_t short_receipts_ = 0;
  std::deque<LotInHand> to_dispatch1_, to_receive1_, to_dispatch2_, to_receive2_, to_split_;
  std::vector<std::deque<LotInHand>> merge_pool_;
  std::vector<std::string> processed_;
  std::vector<std::string> merged_whole_;
};

// ---- measurements ----

struct Summary {
  double min = 0, median = 0, p99 = 0, max = 0;
};
Summary Summarize(std::vector<double> v) {
  if (v.empty()) Die("no samples");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  Summary s;
  s.min = v.front();
  s.median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  s.p99 = v[static_cast<size_t>(std::ceil(0.99 * static_cast<double>(n))) - 1];
  s.max = v.back();
  return s;
}

double ThreadCpuUs() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return 1e6 * static_cast<double>(t.tv_sec) + 1e-3 * static_cast<double>(t.tv_nsec);
}

// The wall time of `f` in microseconds. The CPU time this thread spent in it goes to
// `LastCpuUs()`: on a shared machine the wall time also holds the time other processes had
// the cores, the CPU time does not (the data directory is in the page cache: reads are CPU).
double& LastCpuUs() {
  static double cpu_us = 0;
  return cpu_us;
}
// The table blocks `f` read from files (not found in the block cache), in process: what
// grows with the ledger once it outgrows the cache. RocksDB counts them per thread; over gRPC
// the reads are the node's and this stays 0.
double& LastBlockReads() {
  static double reads = 0;
  return reads;
}
template <class F>
double TimeUs(F&& f) {
  rocksdb::get_perf_context()->Reset();
  const double cpu_start = ThreadCpuUs();
  const auto start = Clock::now();
  f();
  const double wall = 1e6 * Seconds(Clock::now() - start);
  LastCpuUs() = ThreadCpuUs() - cpu_start;
  LastBlockReads() = static_cast<double>(rocksdb::get_perf_context()->block_read_count);
  return wall;
}

// VmRSS and VmHWM of /proc/self/status, in kB (0 when absent).
std::pair<uint64_t, uint64_t> RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  uint64_t rss = 0, peak = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stoull(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) peak = std::stoull(line.substr(6));
  }
  return {rss, peak};
}

// read_bytes of /proc/self/io: what this process read from the storage device, not from the
// page cache (0 when absent). Reported beside the queries because this machine kind's kernel
// pages cold file pages out on its own (docs/PERFORMANCE.md, "Eleventh session"): a run that
// had to read tables from disk is not comparable with one that did not.
uint64_t StorageReadBytes() {
  std::ifstream in("/proc/self/io");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("read_bytes:", 0) == 0) return std::stoull(line.substr(11));
  }
  return 0;
}

uint64_t DirBytes(const std::filesystem::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

// Where the queries go: the Ledger in this process, or a node's QueryService over gRPC. Each
// call dies on an error (a benchmark's queries all name existing lots and valid cursors).
// The size of an answer, so that a reader can see what work a line compares.
struct GraphSize {
  size_t lots = 0;
  size_t events = 0;   // custody events (txs) over all its lots
  size_t members = 0;
  size_t sites = 0;
};
struct PageSize {
  size_t items = 0;
  size_t processed = 0;  // of them processed lots (larger records: 20 parents, ~20 sites)
};
class QueryTarget {
 public:
  virtual ~QueryTarget() = default;
  virtual bool LotExists(const std::string& id) = 0;
  virtual size_t HistoryEvents(const std::string& id) = 0;
  virtual GraphSize Provenance(const std::string& id) = 0;
  virtual PageSize ListLotsPage(const ledger::LotFilter& filter, const std::string& token,
                                size_t page_size) = 0;
};

template <class P>
GraphSize SizeOf(const P& p) {
  GraphSize g;
  g.lots = static_cast<size_t>(p.lots_size());
  for (const auto& l : p.lots()) g.events += static_cast<size_t>(l.events_size());
  g.members = static_cast<size_t>(p.members_size());
  g.sites = static_cast<size_t>(p.sites_size());
  return g;
}
template <class Lots>
PageSize SizeOfPage(const Lots& lots) {
  PageSize s;
  for (const auto& l : lots) {
    ++s.items;
    if (l.parent_lot_ids_size() > 0) ++s.processed;
  }
  return s;
}

class LedgerTarget final : public QueryTarget {
 public:
  explicit LedgerTarget(const ledger::Ledger& ledger) : ledger_(ledger) {}
  bool LotExists(const std::string& id) override {
    auto lot = ledger_.GetLot(id);
    if (!lot) Die("lot " + id + ": " + lot.error().ToString());
    return lot->has_value();
  }
  size_t HistoryEvents(const std::string& id) override {
    auto lot = ledger_.GetLot(id);
    if (!lot || !lot->has_value()) Die("no lot " + id);
    auto h = ledger_.GetLotHistory(**lot, kHistoryLimit);
    if (!h) Die("history of " + id + ": " + h.error().ToString());
    return h->size();
  }
  GraphSize Provenance(const std::string& id) override {
    auto p = ledger_.GetProvenance(id, "");
    if (!p) Die("provenance of " + id + ": " + p.error().ToString());
    return SizeOf(*p);
  }
  PageSize ListLotsPage(const ledger::LotFilter& filter, const std::string& token,
                        size_t page_size) override {
    auto page = ledger_.ListLots(filter, token, page_size);
    if (!page) Die("ListLots: " + page.error().ToString());
    return SizeOfPage(page->items);
  }

 private:
  const ledger::Ledger& ledger_;
};

// One channel, sequential unary calls, each with a 60 s deadline; a client as the CLI is.
class RpcTarget final : public QueryTarget {
 public:
  explicit RpcTarget(const std::string& address) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    // While the node starts, retry its port every 100..500 ms rather than after gRPC's
    // growing backoff: "serving after" then says when the node began to serve.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    query_ = v1::QueryService::NewStub(channel_);
  }

  // The node's head; UNAVAILABLE (not yet serving) is retried for up to `wait_s` seconds.
  v1::LedgerInfo Head(double wait_s) {
    const auto start = Clock::now();
    for (;;) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::SignedLedgerInfo signed_info;
      const grpc::Status st = query_->GetLedgerInfo(&ctx, v1::GetLedgerInfoRequest(), &signed_info);
      if (st.ok()) {
        v1::LedgerInfo info;
        if (!info.ParseFromString(signed_info.ledger_info())) Die("GetLedgerInfo: bad ledger_info");
        return info;
      }
      if (st.error_code() != grpc::StatusCode::UNAVAILABLE &&
          st.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        Die("GetLedgerInfo: " + st.error_message());
      }
      if (Seconds(Clock::now() - start) > wait_s) {
        Die("no node serving after " + std::to_string(static_cast<int>(wait_s)) + " s: " +
            st.error_message());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  bool LotExists(const std::string& id) override {
    v1::GetLotRequest req;
    req.set_lot_id(id);
    v1::Lot lot;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    const grpc::Status st = query_->GetLot(&ctx, req, &lot);
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) return false;
    Check(st, "GetLot " + id);
    return true;
  }
  size_t HistoryEvents(const std::string& id) override {
    v1::GetLotHistoryRequest req;
    req.set_lot_id(id);
    v1::LotHistory h;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    Check(query_->GetLotHistory(&ctx, req, &h), "GetLotHistory " + id);
    return static_cast<size_t>(h.events_size());
  }
  GraphSize Provenance(const std::string& id) override {
    v1::GetProvenanceRequest req;
    req.set_lot_id(id);
    v1::Provenance p;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    Check(query_->GetProvenance(&ctx, req, &p), "GetProvenance " + id);
    return SizeOf(p);
  }
  PageSize ListLotsPage(const ledger::LotFilter& filter, const std::string& token,
                        size_t page_size) override {
    v1::ListLotsRequest req;
    req.set_holder_key(filter.holder_key);
    req.set_site_id(filter.site_id);
    req.set_status(filter.status);
    req.set_page_size(static_cast<uint32_t>(page_size));
    req.set_page_token(token);
    v1::ListLotsResponse resp;
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    Check(query_->ListLots(&ctx, req, &resp), "ListLots");
    return SizeOfPage(resp.lots());
  }

 private:
  static void SetDeadline(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  }
  static void Check(const grpc::Status& st, const std::string& what) {
    if (!st.ok()) Die(what + ": " + st.error_message());
  }
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::QueryService::Stub> query_;
};

// The filter of a ListLots line in a sample file: none, holder=<hex>, site=<id>, status=<n>.
std::string FilterText(const ledger::LotFilter& f) {
  if (!f.holder_key.empty()) return "holder=" + ToHex(AsBytes(f.holder_key));
  if (!f.site_id.empty()) return "site=" + f.site_id;
  if (f.status != v1::LOT_STATUS_UNSPECIFIED) return "status=" + std::to_string(f.status);
  return "none";
}

class Checkpoint {
 public:
  // `leaves` is the ledger's leaf count: with the seed it fixes the sample, so that the same
  // head gives the same queries in process and over gRPC. `sample` (may be null) receives one
  // line per query: its name, then its tab-separated arguments.
  Checkpoint(QueryTarget& target, const Workload& work, size_t samples, uint64_t seed,
             uint64_t leaves, bool rpc, std::FILE* sample, std::string only = "")
      : target_(target),
        work_(work),
        samples_(samples),
        rng_(seed ^ leaves),
        leaves_(leaves),
        rpc_(rpc),
        sample_(sample),
        only_(std::move(only)) {}

  void Run() {
    const uint64_t txs = leaves_;
    // Over gRPC the CPU columns are the client thread's (stub, channel, parsing the reply).
    // blk_med: the median number of table blocks a query read from files (in process only).
    std::printf("%10s  %-32s %10s %10s %10s %10s %10s %8s  %s\n", "txs", "query", "median_us",
                "p99_us", "max_us", rpc_ ? "ccpu_med" : "cpu_med_us",
                rpc_ ? "ccpu_p99" : "cpu_p99_us", "blk_med", "note");
    Query(txs, "GetLot", [&](std::string& note) {
      (void)note;
      const std::string id = RandomLot();
      Note("GetLot", id);
      bool exists = false;
      const double us = TimeUs([&] { exists = target_.LotExists(id); });
      if (!exists) Die("lot " + id + " is not on the ledger");
      return us;
    });
    std::vector<double> events;
    Query(txs, "GetLotHistory", [&](std::string& note) {
      const std::string id = RandomLot();
      Note("GetLotHistory", id);
      size_t n = 0;
      const double us = TimeUs([&] { n = target_.HistoryEvents(id); });
      if (n == 0) Die("lot " + id + " has no history");
      events.push_back(static_cast<double>(n));
      note = "events median " + Fmt(Summarize(events).median) + ", max " + Fmt(Summarize(events).max);
      return us;
    });
    // A processed lot's upstream graph has the same shape at every size (a merge of
    // kMergeInputs mine lots, perhaps split after): the note gives its size, so that a reader
    // sees that both sizes compare the same work.
    std::vector<double> lots, graph_events, members, sites;
    Query(txs, "GetProvenance(processed)", [&](std::string& note) {
      const auto& processed = work_.processed();
      if (processed.empty()) Die("no processed lot yet");
      const std::string& id = processed[Below(processed.size())];
      Note("GetProvenance(processed)", id);
      GraphSize g;
      const double us = TimeUs([&] { g = target_.Provenance(id); });
      lots.push_back(static_cast<double>(g.lots));
      graph_events.push_back(static_cast<double>(g.events));
      members.push_back(static_cast<double>(g.members));
      sites.push_back(static_cast<double>(g.sites));
      note = "lots " + MedRange(lots) + ", events " + MedRange(graph_events) + ", members " +
             MedRange(members) + ", sites " + MedRange(sites) + " (of " +
             std::to_string(processed.size()) + " processed lots)";
      return us;
    });
    // ListLots. Each line compares pages of the same number of lots at every size: the medians
    // are over the FULL pages only (a page of fewer lots reads less), and the values and
    // cursors are drawn where the lists fill a page at 10^4 already (the note says how many of
    // the samples gave a full page and what they held):
    // - unfiltered, by status and in transit: the page size of the node (100); a deep page
    //   starts after a random mine lot of any site but the last two (lists are in lot id
    //   order: a site's mine lots, then the next site's), so that more than a page follows;
    // - by holder: a cooperative of the first 20 (three sites each: about 140 lots held at
    //   10^4; the others hold about 90, a processor about 20), the deep page after a lot of its
    //   first site. A trader's stock (about 10 lots at every size: lots pass through it) has
    //   its own line; its pages are never full, and the times are over all of them;
    // - by site: pages of 50 (a site has about 66 lots at 10^4: 58 mine lots and the processed
    //   lots made from them, which come first in id order), the deep page after one of its
    //   mine lots with 50 more after it.
    // Lists whose entries come and go (lots in transit, a trader's stock) keep deleted index
    // entries until compaction: they have lines of their own.
    ListQuery(txs, "ListLots(all)", kPageSize, [&] { return ledger::LotFilter{}; },
              [&](const ledger::LotFilter&) { return DeepMineCursor(); });
    ListQuery(
        txs, "ListLots(holder=coop)", kPageSize,
        [&] {
          ledger::LotFilter f;
          f.holder_key = work_.HolderKey(static_cast<uint32_t>(Below(kCoopsWithThreeSites)));
          return f;
        },
        [&](const ledger::LotFilter& f) {
          for (uint32_t c = 0; c < kCoopsWithThreeSites; ++c) {
            if (work_.HolderKey(c) == f.holder_key) return SiteMineLot(c, 0);
          }
          Die("not a sampled cooperative");
        });
    ListQuery(
        txs, "ListLots(holder=trader)", kPageSize,
        [&] {
          ledger::LotFilter f;
          f.holder_key = work_.TraderKey(static_cast<uint32_t>(Below(kTraders)));
          return f;
        },
        [&](const ledger::LotFilter&) { return RandomLot(); });
    ListQuery(
        txs, "ListLots(site)", kSitePageSize,
        [&] {
          ledger::LotFilter f;
          f.site_id = Workload::SiteId(static_cast<uint32_t>(Below(kSites)));
          return f;
        },
        [&](const ledger::LotFilter& f) {
          return SiteMineLot(static_cast<uint32_t>(std::stoul(f.site_id.substr(3))),
                             kSitePageSize);
        });
    ListQuery(
        txs, "ListLots(status)", kPageSize,
        [&] {
          static constexpr v1::LotStatus kStatuses[] = {
              v1::LOT_STATUS_HELD, v1::LOT_STATUS_IN_TRANSIT, v1::LOT_STATUS_CONSUMED};
          ledger::LotFilter f;
          f.status = kStatuses[Below(3)];
          return f;
        },
        [&](const ledger::LotFilter&) { return DeepMineCursor(); });
    ListQuery(
        txs, "ListLots(status=transit)", kPageSize,
        [&] {
          ledger::LotFilter f;
          f.status = v1::LOT_STATUS_IN_TRANSIT;
          return f;
        },
        [&](const ledger::LotFilter&) { return DeepMineCursor(); });
    std::fflush(stdout);
  }

 private:
  static std::string Fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  uint64_t Below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  std::string RandomLot() { return work_.LotId(Below(work_.lot_count())); }
  void Note(const std::string& query, const std::string& args) {
    if (sample_ != nullptr) std::fprintf(sample_, "%s\t%s\n", query.c_str(), args.c_str());
  }

  // Times `samples_` runs of `one` (which returns its own time in us and may set a note).
  template <class F>
  void Query(uint64_t txs, const char* name, F&& one) {
    if (Skip(name)) return;
    std::vector<double> us, cpu_us, blocks;
    std::string note;
    for (size_t i = 0; i < samples_; ++i) {
      us.push_back(one(note));
      cpu_us.push_back(LastCpuUs());
      blocks.push_back(LastBlockReads());
    }
    const Summary s = Summarize(us), c = Summarize(cpu_us);
    std::printf("%10llu  %-32s %10.1f %10.1f %10.1f %10.1f %10.1f %8s  %s\n",
                static_cast<unsigned long long>(txs), name, s.median, s.p99, s.max, c.median,
                c.p99, BlocksText(blocks).c_str(), note.c_str());
    std::fflush(stdout);
  }

  std::string BlocksText(const std::vector<double>& blocks) const {
    return rpc_ ? "-" : Fmt(Summarize(blocks).median);
  }
  bool Skip(const std::string& name) const {
    return !only_.empty() && name.find(only_) == std::string::npos;
  }
  static std::string MedRange(const std::vector<double>& v) {
    const Summary s = Summarize(v);
    return s.min == s.max ? Fmt(s.median)
                          : Fmt(s.median) + " (" + Fmt(s.min) + ".." + Fmt(s.max) + ")";
  }

  // A random mine lot of site s among those with at least `after` more of the site's mine
  // lots after it (any of them if the site has fewer).
  std::string SiteMineLot(uint32_t s, uint64_t after) {
    const uint64_t per_site = (work_.mine_lots() - s + kSites - 1) / kSites;
    const uint64_t choices = per_site > after ? per_site - after : per_site;
    return work_.MineLotId(s + kSites * Below(choices));
  }
  // A random mine lot of any site but the last two: at least two sites' lots follow it.
  std::string DeepMineCursor() {
    return SiteMineLot(static_cast<uint32_t>(Below(kSites - 2)), 0);
  }

  // The first page and a deep page (after the lot `cursor(filter)` names) of the filter
  // `pick()` returns, `page_size` lots a page. The times are summarized over the full pages
  // (over all pages when none was full).
  template <class F>
  void ListQuery(uint64_t txs, const std::string& name, size_t page_size, F&& pick,
                 const std::function<std::string(const ledger::LotFilter&)>& cursor) {
    for (bool deep : {false, true}) {
      const std::string line = name + (deep ? " deep" : " first");
      if (Skip(line)) continue;
      std::vector<double> us, cpu_us, full_us, full_cpu_us, blocks, full_blocks, items, processed;
      for (size_t i = 0; i < samples_; ++i) {
        const ledger::LotFilter filter = pick();
        const std::string token = !deep ? std::string() : ToHex(AsBytes(cursor(filter)));
        Note(line, FilterText(filter) + "\t" + (token.empty() ? "-" : token) + "\t" +
                       std::to_string(page_size));
        PageSize got;
        const double t = TimeUs([&] { got = target_.ListLotsPage(filter, token, page_size); });
        us.push_back(t);
        cpu_us.push_back(LastCpuUs());
        blocks.push_back(LastBlockReads());
        items.push_back(static_cast<double>(got.items));
        if (got.items == page_size) {
          full_us.push_back(t);
          full_cpu_us.push_back(LastCpuUs());
          full_blocks.push_back(LastBlockReads());
          processed.push_back(static_cast<double>(got.processed));
        }
      }
      const bool full = !full_us.empty();
      const Summary s = Summarize(full ? full_us : us), c = Summarize(full ? full_cpu_us : cpu_us);
      std::string note = "page " + std::to_string(page_size) + ": ";
      if (full) {
        note += std::to_string(full_us.size()) + " of " + std::to_string(samples_) +
                " full (times over those), processed lots in them " + MedRange(processed);
      } else {
        note += "none full (times over all), items " + MedRange(items);
      }
      std::printf("%10llu  %-32s %10.1f %10.1f %10.1f %10.1f %10.1f %8s  %s\n",
                  static_cast<unsigned long long>(txs), line.c_str(), s.median, s.p99, s.max,
                  c.median, c.p99, BlocksText(full ? full_blocks : blocks).c_str(),
                  note.c_str());
      std::fflush(stdout);
    }
  }

  QueryTarget& target_;
  const Workload& work_;
  size_t samples_;
  std::mt19937_64 rng_;
  uint64_t leaves_;
  bool rpc_;
  std::FILE* sample_;
  std::string only_;  // --only: the lines whose name holds it (the others draw no samples)
};

// Builds and verifies the bundles of `runs` random lots of `pool`.
void MeasureBundles(bench::BenchLedger& bench, uint64_t txs, const char* what,
                    const std::function<std::string(std::mt19937_64&)>& pick, int runs,
                    std::mt19937_64& rng) {
  std::vector<double> bytes, build_ms, verify_ms, tx_counts;
  for (int r = 0; r < runs; ++r) {
    const std::string lot = pick(rng);
    auto t0 = Clock::now();
    const v1::ProvenanceProof bundle = bench.Build(lot);
    build_ms.push_back(1e3 * Seconds(Clock::now() - t0));
    t0 = Clock::now();
    auto v = lp::VerifyProvenanceProof(bundle, bench.genesis());
    verify_ms.push_back(1e3 * Seconds(Clock::now() - t0));
    if (!v) Die("the bundle of " + lot + " does not verify: " + v.error().message);
    bytes.push_back(static_cast<double>(bundle.ByteSizeLong()));
    tx_counts.push_back(static_cast<double>(v->tx_count));
  }
  const Summary b = Summarize(bytes), bu = Summarize(build_ms), ve = Summarize(verify_ms),
                t = Summarize(tx_counts);
  std::printf("%10llu  %-14s %5.0f..%-5.0f %10.0f %10.0f %10.3f %10.3f %10.3f %10.3f\n",
              static_cast<unsigned long long>(txs), what, t.min, t.max, b.median, b.max, bu.median, bu.max, ve.median, ve.max);
  std::fflush(stdout);
}

struct Options {
  uint64_t max_txs = 1'000'000;
  size_t samples = 1000;
  int bundle_runs = 20;
  uint64_t seed = 1;
  std::filesystem::path dir;  // empty: a temporary directory, removed at the end
  bool reopen = false;        // measure `dir`, filled by an earlier run
  int passes = 1;             // times the queries are measured at each checkpoint
  std::string rpc;            // HOST:PORT: the queries go to this node over gRPC
  double rpc_wait_s = 600;    // how long to wait for that node to serve
  std::FILE* sample = nullptr;  // --write-sample: the queries' arguments
  std::string only;             // --only: the query lines whose name holds this text
};

constexpr const char* kChainId = "growth-chain";

// The genesis file a node needs to serve a directory this program filled (the format
// `minetrace testnet` writes). Refuses to overwrite a file that says otherwise.
void WriteGenesis(const std::filesystem::path& file) {
  const std::string toml = ledger::proof::GenesisToToml(bench::BenchGenesis(kChainId));
  if (std::filesystem::exists(file)) {
    std::ifstream in(file);
    const std::string old((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (old == toml) return;
    Die(file.string() + " exists and is not this program's genesis");
  }
  std::ofstream out(file);
  out << toml;
  out.close();
  if (!out) Die("cannot write " + file.string());
}

// Beside a data directory PATH: PATH.genesis.toml.
std::filesystem::path GenesisBeside(std::filesystem::path dir) {
  while (!dir.empty() && !dir.has_filename()) dir = dir.parent_path();  // a trailing slash
  dir += ".genesis.toml";
  return dir;
}

std::vector<uint64_t> Checkpoints(uint64_t max_txs) {
  std::vector<uint64_t> checkpoints;
  for (uint64_t c = kFirstCheckpoint; c <= max_txs; c *= 10) checkpoints.push_back(c);
  if (checkpoints.empty() || checkpoints.back() != max_txs) checkpoints.push_back(max_txs);
  return checkpoints;
}

void PrintState(bench::BenchLedger& bench, const Workload& work, const std::filesystem::path& dir,
                const char* disk_note) {
  const uint64_t disk = DirBytes(dir);
  const auto [rss_kb, peak_kb] = RssKb();
  std::printf("ledger: %llu lots (%llu mine, %zu processed), %llu short receipts (flags)\n",
              static_cast<unsigned long long>(work.lot_count()),
              static_cast<unsigned long long>(work.mine_lots()), work.processed().size(),
              static_cast<unsigned long long>(work.short_receipts()));
  std::printf("disk: %llu bytes in the data directory, %.1f bytes per committed tx (%s)\n",
              static_cast<unsigned long long>(disk),
              static_cast<double>(disk) / static_cast<double>(bench.leaves()), disk_note);
  std::printf("memory: RSS %.1f MB, peak RSS %.1f MB\n", static_cast<double>(rss_kb) / 1024,
              static_cast<double>(peak_kb) / 1024);
  std::fflush(stdout);
}

// The queries and bundles at the ledger's head.
void Measure(const Options& opt, bench::BenchLedger& bench, const Workload& work) {
  // Later passes draw the same lots: they show the queries on warm caches.
  for (int pass = 1; pass <= opt.passes; ++pass) {
    if (opt.passes > 1) std::printf("pass %d of %d\n", pass, opt.passes);
    LedgerTarget target(bench.ledger());
    const uint64_t read_before = StorageReadBytes();
    Checkpoint(target, work, opt.samples, opt.seed, bench.leaves(), false, opt.sample, opt.only)
        .Run();
    std::printf("read from the storage device during the queries: %.1f MB\n",
                static_cast<double>(StorageReadBytes() - read_before) / 1e6);
  }
  if (!opt.only.empty()) return;  // the chosen queries only: no bundles

  bench.CertifyHead();
  std::mt19937_64 rng(opt.seed ^ bench.leaves() ^ 0xb0b);
  std::printf("%10s  %-14s %11s %10s %10s %10s %10s %10s %10s\n", "txs", "bundle", "txs",
              "bytes_med", "bytes_max", "build_ms", "build_max", "verify_ms", "verify_max");
  MeasureBundles(bench, bench.leaves(), "lone mine lot",
                 [&](std::mt19937_64& r) {
                   for (;;) {
                     const uint64_t k =
                         std::uniform_int_distribution<uint64_t>(0, work.mine_lots() - 1)(r);
                     if (!Workload::Travels(k)) return work.MineLotId(k);
                   }
                 },
                 opt.bundle_runs, rng);
  if (!work.merged_whole().empty()) {
    MeasureBundles(bench, bench.leaves(), "merged lot",
                   [&](std::mt19937_64& r) {
                     const auto& m = work.merged_whole();
                     return m[std::uniform_int_distribution<size_t>(0, m.size() - 1)(r)];
                   },
                   opt.bundle_runs, rng);
  }
  const auto [rss_kb, peak_kb] = RssKb();
  std::printf("memory after the queries: RSS %.1f MB, peak RSS %.1f MB\n",
              static_cast<double>(rss_kb) / 1024, static_cast<double>(peak_kb) / 1024);
  std::fflush(stdout);
}

void PrintCommand(const Options& opt) {
  std::printf("# growth_bench --max-txs=%llu --samples=%zu --bundle-runs=%d --seed=%llu%s%s%s%s; "
              "page size %zu; times in microseconds unless named\n",
              static_cast<unsigned long long>(opt.max_txs), opt.samples, opt.bundle_runs,
              static_cast<unsigned long long>(opt.seed), opt.reopen ? " --reopen=" : "",
              opt.reopen ? opt.dir.c_str() : "", opt.rpc.empty() ? "" : " --rpc=",
              opt.rpc.c_str(), kPageSize);
}

int Fill(const Options& opt, const std::filesystem::path& dir) {
  bench::BenchLedger bench(dir, kChainId);
  if (!opt.dir.empty()) WriteGenesis(GenesisBeside(opt.dir));
  Workload work(kChainId);
  const auto run_start = Clock::now();
  for (auto& block : work.SetUpBlocks(bench.admin(), bench.now_ms())) bench.Commit(std::move(block));
  PrintCommand(opt);
  for (uint64_t target : Checkpoints(opt.max_txs)) {
    // Fill: the next block is prepared and signed (another thread) while this one commits.
    const uint64_t before = bench.leaves();
    const auto fill_start = Clock::now();
    Clock::duration executing{};
    uint64_t blocks = 0;
    uint64_t planned = bench.leaves();
    auto prepare = [&](int64_t block_ms) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockTxs, target - planned));
      planned += n;
      return std::async(std::launch::async, [&work, &bench, n, block_ms] {
        return work.NextBlock(n, block_ms, bench.admin());
      });
    };
    if (planned < target) {
      auto next = prepare(bench.now_ms());
      for (;;) {
        std::vector<v1::SignedTx> current = next.get();
        const bool more = planned < target;
        if (more) next = prepare(bench.now_ms() + bench::kBlockIntervalMs);
        executing += bench.Commit(std::move(current), /*trust_signatures=*/true);
        ++blocks;
        if (!more) break;
      }
    }
    const double wall_s = Seconds(Clock::now() - fill_start);
    const double exec_s = Seconds(executing);
    const uint64_t added = bench.leaves() - before;
    std::printf("\n## %llu committed txs\n", static_cast<unsigned long long>(bench.leaves()));
    std::printf("fill: %llu txs in %llu blocks, %.1f s in ExecuteAndCommit (%.0f tx/s), %.1f s "
                "wall (%.0f tx/s; the run so far %.1f s)\n",
                static_cast<unsigned long long>(added), static_cast<unsigned long long>(blocks),
                exec_s, static_cast<double>(added) / std::max(exec_s, 1e-9), wall_s,
                static_cast<double>(added) / std::max(wall_s, 1e-9),
                Seconds(Clock::now() - run_start));
    PrintState(bench, work, dir, "no forced flush: the memtables are in the WAL");
    Measure(opt, bench, work);
  }
  return 0;
}

// Measures a data directory an earlier run filled (and perhaps was stopped in): the workload
// is replayed, unsigned and not executed, block by block as that run made them (the same
// --max-txs gives the same block sizes) up to the ledger's head, and checked against it.
// Replays the workload (unsigned, not executed) up to a ledger of `head` txs that a run with
// `max_txs` filled, and checks it against the ledger's lots through `target`.
void Replay(Workload& work, uint64_t head, uint64_t max_txs, QueryTarget& target,
            const std::string& where) {
  work.set_replaying(true);
  uint64_t replayed = 0;
  const crypto::PrivateKey admin = bench::AdminKey();
  for (const auto& block : work.SetUpBlocks(admin, 0)) replayed += block.size();
  for (uint64_t checkpoint : Checkpoints(max_txs)) {
    while (replayed < checkpoint && replayed < head) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockTxs, checkpoint - replayed));
      work.NextBlock(n, 0, admin);
      replayed += n;
    }
  }
  if (replayed != head) {
    Die("the ledger holds " + std::to_string(head) + " txs, not a whole number of the blocks " +
        "a run with --max-txs=" + std::to_string(max_txs) + " makes");
  }
  auto exists = [&](const std::string& id) { return target.LotExists(id); };
  if (work.mine_lots() == 0 || !exists(work.MineLotId(work.mine_lots() - 1)) ||
      exists(work.MineLotId(work.mine_lots())) ||
      (!work.processed().empty() && !exists(work.processed().back()))) {
    Die("the replayed workload does not match the ledger " + where);
  }
}

int Reopen(const Options& opt, const std::filesystem::path& dir) {
  bench::BenchLedger bench(dir, kChainId);
  WriteGenesis(GenesisBeside(dir));
  bench.ResumeAfterHead();
  const uint64_t head = bench.leaves();
  Workload work(kChainId);
  const auto start = Clock::now();
  LedgerTarget target(bench.ledger());
  Replay(work, head, opt.max_txs, target, "in " + dir.string());
  PrintCommand(opt);
  std::printf("\n## %llu committed txs (reopened; workload replayed in %.1f s)\n",
              static_cast<unsigned long long>(head), Seconds(Clock::now() - start));
  PrintState(bench, work, dir, "reopened: recovery flushed the WAL into tables");
  Measure(opt, bench, work);
  return 0;
}

// The queries of a checkpoint over gRPC, against a node serving a directory this program
// filled (and nothing else: its head must not move while they run). No bundles: building one
// needs the node's stored certificates, which a copy of a benchmark's directory lacks.
int Remote(const Options& opt) {
  RpcTarget target(opt.rpc);
  const auto wait_start = Clock::now();
  const v1::LedgerInfo head = target.Head(opt.rpc_wait_s);
  const double waited_s = Seconds(Clock::now() - wait_start);
  if (head.chain_id() != kChainId) {
    Die("the node at " + opt.rpc + " serves chain '" + head.chain_id() + "', not " + kChainId);
  }
  Workload work(kChainId);
  const auto start = Clock::now();
  Replay(work, head.leaf_count(), opt.max_txs, target, "the node at " + opt.rpc + " serves");
  PrintCommand(opt);
  std::printf("\n## %llu committed txs (over gRPC at %s, height %llu; first answer after %.1f s; "
              "workload replayed in %.1f s)\n",
              static_cast<unsigned long long>(head.leaf_count()), opt.rpc.c_str(),
              static_cast<unsigned long long>(head.height()), waited_s,
              Seconds(Clock::now() - start));
  std::printf("ledger: %llu lots (%llu mine, %zu processed)\n",
              static_cast<unsigned long long>(work.lot_count()),
              static_cast<unsigned long long>(work.mine_lots()), work.processed().size());
  std::fflush(stdout);
  for (int pass = 1; pass <= opt.passes; ++pass) {
    if (opt.passes > 1) std::printf("pass %d of %d\n", pass, opt.passes);
    Checkpoint(target, work, opt.samples, opt.seed, head.leaf_count(), true, opt.sample, opt.only)
        .Run();
  }
  const v1::LedgerInfo after = target.Head(0);
  if (after.leaf_count() != head.leaf_count()) {
    Die("the node's head moved during the queries (" + std::to_string(head.leaf_count()) +
        " -> " + std::to_string(after.leaf_count()) + " txs): not a fixed ledger");
  }
  std::printf("head unchanged after the queries: %llu txs\n",
              static_cast<unsigned long long>(after.leaf_count()));
  return 0;
}

bool ParseUint(const std::string& arg, const char* flag, uint64_t& out) {
  const size_t n = std::strlen(flag);
  if (arg.rfind(flag, 0) != 0) return false;
  const std::string v = arg.substr(n);
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 12) {
    Die(std::string("bad value for ") + flag + " '" + v + "'");
  }
  out = std::stoull(v);
  return true;
}

}  // namespace
}  // namespace minetrace

int main(int argc, char** argv) {
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);  // LastBlockReads
  using minetrace::Options;
  minetrace::bench::ProgramName() = "growth_bench";
  Options opt;
  std::string genesis_file, sample_file;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    uint64_t v = 0;
    if (minetrace::ParseUint(arg, "--max-txs=", v)) {
      opt.max_txs = v;
    } else if (minetrace::ParseUint(arg, "--samples=", v)) {
      opt.samples = static_cast<size_t>(v);
    } else if (minetrace::ParseUint(arg, "--bundle-runs=", v)) {
      opt.bundle_runs = static_cast<int>(v);
    } else if (minetrace::ParseUint(arg, "--passes=", v)) {
      opt.passes = static_cast<int>(std::min<uint64_t>(v, 10));
    } else if (minetrace::ParseUint(arg, "--seed=", v)) {
      opt.seed = v;
    } else if (arg.rfind("--dir=", 0) == 0 && arg.size() > 6) {
      opt.dir = arg.substr(6);
    } else if (arg.rfind("--reopen=", 0) == 0 && arg.size() > 9) {
      opt.dir = arg.substr(9);
      opt.reopen = true;
    } else if (arg.rfind("--rpc=", 0) == 0 && arg.size() > 6) {
      opt.rpc = arg.substr(6);
    } else if (minetrace::ParseUint(arg, "--rpc-wait-s=", v)) {
      opt.rpc_wait_s = static_cast<double>(v);
    } else if (arg.rfind("--write-genesis=", 0) == 0 && arg.size() > 16) {
      genesis_file = arg.substr(16);
    } else if (arg.rfind("--only=", 0) == 0 && arg.size() > 7) {
      opt.only = arg.substr(7);
    } else if (arg.rfind("--write-sample=", 0) == 0 && arg.size() > 15) {
      sample_file = arg.substr(15);
    } else {
      std::fprintf(stderr,
                   "usage: growth_bench [--max-txs=N (10000..10000000, default 1000000)]\n"
                   "                    [--samples=N (lots per query, default 1000)]\n"
                   "                    [--bundle-runs=N (bundles per kind, default 20)]\n"
                   "                    [--seed=N (default 1)] [--dir=PATH (kept; must not "
                   "exist; default a temporary directory, removed)]\n"
                   "                    [--passes=N (query passes per checkpoint, 1..10, "
                   "default 1)]\n"
                   "   or: growth_bench --reopen=PATH [--max-txs=N as when PATH was filled] "
                   "[--samples=N] [--bundle-runs=N] [--seed=N] [--passes=N]\n"
                   "       (measures PATH again, filled by an earlier run, perhaps stopped)\n"
                   "   or: growth_bench --rpc=HOST:PORT [--max-txs=N as when the node's data "
                   "was filled] [--samples=N] [--seed=N] [--passes=N]\n"
                   "                    [--rpc-wait-s=N (wait for the node to serve, default "
                   "600)]\n"
                   "       (the same queries over gRPC to a node serving a copy of such data; "
                   "tests/bench/growth_rpc.sh starts one)\n"
                   "   or: growth_bench --write-genesis=FILE (the genesis of every ledger it "
                   "fills, as a node reads it; a fill with --dir=PATH and --reopen=PATH also\n"
                   "       write it to PATH.genesis.toml)\n"
                   "   --write-sample=FILE with any measuring run: one line per query sent, its "
                   "name and tab-separated arguments (lot id; ListLots: filter, page token, page size)\n"
                   "   --only=TEXT with any measuring run: only the query lines whose name holds "
                   "TEXT, no bundles\n"
                   "       (for a profile; the other lines draw no samples, so the sample "
                   "differs from a whole run's)\n");
      return 2;
    }
  }
  if (!genesis_file.empty()) {
    minetrace::WriteGenesis(genesis_file);
    return 0;
  }
  if (!sample_file.empty()) {
    opt.sample = std::fopen(sample_file.c_str(), "w");
    if (opt.sample == nullptr) minetrace::Die("cannot write " + sample_file);
  }
  if (opt.max_txs < minetrace::kFirstCheckpoint || opt.max_txs > 10'000'000) {
    minetrace::Die("--max-txs is 10000 to 10000000");
  }
  if (opt.samples == 0 || opt.bundle_runs == 0 || opt.passes == 0) {
    minetrace::Die("--samples, --bundle-runs and --passes are at least 1");
  }
  if (!opt.rpc.empty()) {
    if (opt.reopen || !opt.dir.empty()) minetrace::Die("--rpc takes no --dir or --reopen");
    const int rc = minetrace::Remote(opt);
    if (opt.sample != nullptr) std::fclose(opt.sample);
    return rc;
  }
  if (opt.reopen) {
    if (!std::filesystem::is_directory(opt.dir)) {
      minetrace::Die("--reopen " + opt.dir.string() + " is not a directory");
    }
    const int rc = minetrace::Reopen(opt, opt.dir);
    if (opt.sample != nullptr) std::fclose(opt.sample);
    return rc;
  }
  std::filesystem::path dir = opt.dir;
  const bool temporary = dir.empty();
  if (temporary) {
    dir = std::filesystem::temp_directory_path() /
          ("minetrace-growth-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
  } else if (std::filesystem::exists(dir)) {
    minetrace::Die("--dir " + dir.string() + " exists; give a new path");
  }
  const int rc = minetrace::Fill(opt, dir);
  if (opt.sample != nullptr) std::fclose(opt.sample);
  if (temporary) std::filesystem::remove_all(dir);
  return rc;
}
