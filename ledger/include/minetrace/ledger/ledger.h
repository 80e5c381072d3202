// Ledger is a node's replicated state machine over its Store: it executes blocks of signed
// transactions under the domain rules, commits each block (receipts, state, indexes,
// accumulator nodes, header, ledger info) in one synced write, and answers queries.
//
// Threading: one thread (the node's executor) calls CheckTx and ExecuteAndCommit; queries
// (the const Get*/List* methods) may run on any thread at the same time. Each read sees a
// whole committed block or none of it (one synced write batch per block); a query that makes
// several reads may see the blocks before and after a commit that lands between them (a list
// page may show a lot its filter no longer matches). Proofs come from one published head.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/crypto/keys.h"
#include "minetrace/ledger/accumulator.h"
#include "minetrace/ledger/state.h"
#include "minetrace/ledger/store.h"
#include "minetrace/v1/ledger.pb.h"
#include "minetrace/v1/node.pb.h"

namespace minetrace::ledger {

// A committed transaction with its receipt, as stored.
struct TxRecord {
  v1::SignedTx tx;
  Hash32 tx_id{};
  std::string receipt_bytes;  // hashed as stored: never re-serialized
  v1::Receipt receipt;
  Hash32 receipt_hash{};
};

// A block that consensus has committed, for the ledger to execute as the next height.
struct BlockToExecute {
  uint64_t height = 0;       // must be the head's height + 1
  uint64_t round = 0;        // the consensus round, recorded in the header
  int64_t time_ms = 0;       // the proposer's timestamp; raised to the head's time if earlier
  std::string proposer_key;  // 32-byte x-only key
  std::vector<v1::SignedTx> txs;
  // Kept beside the block, opaque to the ledger: the node's proof that the block committed
  // (the consensus block and a QC), served to peers that sync.
  std::string certificate;
  // The node's consensus records to change in the same synced write (Column::kConsensus
  // only), so that a block's commit and the pruning of its consensus records are atomic.
  std::vector<StoreWrite> consensus_writes;
};

// A tx of a committed block that was not executed. Consensus may order a tx twice (two
// uncommitted blocks by different leaders) or, with a faulty quorum, a tx with a bad
// signature; every replica skips exactly the same ones, so the ledgers stay equal.
struct SkippedTx {
  Hash32 tx_id{};
  std::string reason;
};

struct CommittedBlock {
  v1::Block block;
  Hash32 block_id{};
  v1::LedgerInfo ledger_info;  // the state after this block
  std::vector<TxRecord> txs;   // executed, in block order
  std::vector<SkippedTx> skipped;
};

// Filters of the list queries combine (AND); an empty field does not filter.
struct IncidentFilter {
  v1::IncidentSubjectKind subject_kind = v1::INCIDENT_SUBJECT_UNSPECIFIED;  // with subject_id
  std::string subject_id;
  v1::IncidentStatus status = v1::INCIDENT_STATUS_UNSPECIFIED;
  uint32_t level = 0;  // 0 = any
  v1::IncidentCategory category = v1::INCIDENT_CATEGORY_UNSPECIFIED;
  bool open_only = false;  // open or under mitigation
};

struct FlagFilter {
  std::string kind;
  std::string lot_id;
  std::string site_id;
  std::string member_key;
};

struct ShipmentFilter {
  std::string exporter_key;
  v1::ShipmentStatus status = v1::SHIPMENT_STATUS_UNSPECIFIED;
};

struct LotFilter {
  std::string holder_key;  // at most one of the three is set
  std::string site_id;
  v1::LotStatus status = v1::LOT_STATUS_UNSPECIFIED;
};

// A page of a list query. A filtered list examines a bounded number of index entries per
// page, so a page may hold fewer items than asked while more follow: read on until
// next_page_token is empty.
template <class T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

// Bounds of the queries (they keep a request's work and answer bounded).
inline constexpr size_t kMaxExaminedPerPage = 20'000;  // index entries per filtered page
inline constexpr size_t kMaxProvenanceLots = 10'000;
// A lot's custody events kept with it for provenance (v1::LotEvents); a longer history's later
// events are read from their txs. Real lots have a few dozen; the bound keeps the record,
// rewritten at each event, under ~50 KB.
inline constexpr size_t kMaxStoredEventsPerLot = 256;
inline constexpr size_t kMaxHoldingsLots = 100'000;
inline constexpr int64_t kMaxProductionMonths = 120;
inline constexpr int64_t kProductionMonthMs = 30LL * 24 * 3600 * 1000;  // as keys::SiteMonthVolume

class Ledger {
 public:
  // Opens the ledger in `dir`, initialising it from `genesis` on first start (founding
  // administrators become members at height 0). Refuses (kFailedPrecondition) a data
  // directory that was created for another genesis.
  static Result<std::unique_ptr<Ledger>> Open(const std::filesystem::path& dir,
                                              const v1::Genesis& genesis);
  Ledger(const Ledger&) = delete;
  Ledger& operator=(const Ledger&) = delete;

  const v1::Genesis& genesis() const { return genesis_; }
  const Hash32& genesis_hash() const { return genesis_hash_; }
  // The state after the latest committed block (height 0 = genesis).
  v1::LedgerInfo head() const;

  // Admission check: executes the transaction on `pending` (a layer over committed state
  // holding the effects of transactions already admitted) as it would run in the next block
  // at `now_ms`. On success its effects stay in `pending`; on refusal `pending` is unchanged.
  // A refusal that raises anomalies (a tag used off its site or agent) is admitted all the
  // same, with no effect on `pending`: it must reach a block and commit FAILED with its
  // flags, so that evidence of tag misuse does not vanish at the mempool.
  Result<void> CheckTx(StateView& pending, const v1::TxBody& body, std::string_view signer,
                       int64_t now_ms) const;
  // A read-only layer over committed state, for CheckTx.
  std::unique_ptr<StateView> NewPendingState() const;

  // Executes a committed block and commits it durably, with the ledger info signed by
  // `signer` (this node). A tx whose id `signature_checked` returns true for is not verified
  // again. Txs that repeat a committed or earlier tx id, or whose envelope or signature is bad,
  // are skipped (CommittedBlock::skipped), never executed; the block itself always commits.
  // Every anomaly of every receipt (OK or FAILED) becomes a Flag record ("FLG-" and a
  // sequence), in receipt order then anomaly order.
  // Errors are the node's own (disk, or a height that does not follow the head): nothing is
  // written then.
  Result<CommittedBlock> ExecuteAndCommit(
      const BlockToExecute& block, const crypto::PrivateKey& signer,
      const std::function<bool(const Hash32&, const v1::SignedTx&)>& signature_checked);

  // A consistent copy of the whole ledger in `dir` (must not exist yet), to back the node up:
  // start a node on it as its data_dir to restore. Executor thread only (between blocks).
  Result<void> Checkpoint(const std::filesystem::path& dir) const {
    return store_->Checkpoint(dir);
  }

  // ---- the node's consensus records (Column::kConsensus, opaque to the ledger) ----
  // Applies `writes` (all to Column::kConsensus) in one synced batch.
  Result<void> WriteConsensusRecords(const std::vector<StoreWrite>& writes);
  Result<std::optional<std::string>> GetConsensusRecord(std::string_view key) const;
  Result<void> ScanConsensusRecords(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) const;

  // ---- queries (any thread) ----
  Result<bool> HasTx(const Hash32& tx_id) const;
  Result<std::optional<TxRecord>> GetTx(const Hash32& tx_id) const;
  Result<TxRecord> GetTxAtLeaf(uint64_t leaf_index) const;
  Result<std::optional<v1::Lot>> GetLot(std::string_view lot_id) const;
  // The first `limit` events of `lot` (a record GetLot returned), oldest first.
  Result<std::vector<TxRecord>> GetLotHistory(const v1::Lot& lot, size_t limit) const;
  Result<Page<v1::Lot>> ListLots(const LotFilter& filter, std::string_view page_token,
                                 size_t page_size) const;
  // Sites with their effective status at the head's block time.
  Result<std::optional<v1::MineSite>> GetMineSite(std::string_view site_id) const;
  Result<Page<v1::MineSite>> ListMineSites(std::string_view country, std::string_view page_token,
                                           size_t page_size) const;
  Result<std::optional<v1::Member>> GetMember(std::string_view member_key) const;
  // An unused tag of a site whose tags were withdrawn after its allocation is reported
  // TAG_STATUS_WITHDRAWN (derived here, never stored).
  Result<std::optional<v1::Tag>> GetTag(std::string_view tag_id) const;

  // ---- the chain of custody (query.cc) ----
  // The upstream graph of a lot, or of a shipment's lots, back to the mine lots (breadth
  // first, each lot once, at most `max_lots` (1..kMaxProvenanceLots): truncated beyond).
  // Exactly one of the ids is non-empty (else kInvalidArgument); kNotFound when it names
  // nothing. CustodyEvent.weight_grams is the weight the action states for the lot
  // (record_mine_lot, receive_lots, a process_lots output) and 0 for actions that state none.
  Result<v1::Provenance> GetProvenance(std::string_view lot_id, std::string_view shipment_id,
                                       size_t max_lots = kMaxProvenanceLots) const;
  Result<std::optional<v1::Incident>> GetIncident(std::string_view incident_id) const;
  // In id order (the order of reporting).
  Result<Page<v1::Incident>> ListIncidents(const IncidentFilter& filter,
                                           std::string_view page_token, size_t page_size) const;
  // In id order (the order of raising).
  Result<Page<v1::Flag>> ListFlags(const FlagFilter& filter, std::string_view page_token,
                                   size_t page_size) const;
  Result<std::optional<v1::Shipment>> GetShipment(std::string_view shipment_id) const;
  Result<Page<v1::Shipment>> ListShipments(const ShipmentFilter& filter,
                                           std::string_view page_token, size_t page_size) const;
  // Oldest first; nullopt for an unknown site.
  Result<std::optional<std::vector<v1::Inspection>>> ListInspections(
      std::string_view site_id) const;
  // Tagged volume per 30-day month from `from_ms` (0 = the site's registration) to `to_ms`
  // (0 = the head's block time), at most kMaxProductionMonths months (kInvalidArgument
  // beyond); nullopt for an unknown site.
  Result<std::optional<v1::SiteProduction>> GetSiteProduction(std::string_view site_id,
                                                              int64_t from_ms,
                                                              int64_t to_ms) const;
  // A member's mass balance and what it holds and has in transit to it; nullopt for an
  // unknown member.
  Result<std::optional<v1::Holdings>> GetHoldings(std::string_view member_key) const;
  // Tests only: how many index entries (per index) a filtered page examines before it
  // returns, possibly short, with a token (default kMaxExaminedPerPage).
  void set_page_scan_bound_for_testing(size_t bound) { page_scan_bound_ = bound; }
  Result<std::optional<v1::Block>> GetBlock(uint64_t height) const;
  // The state after block `height` (0 = genesis), and the certificate stored with that block.
  Result<std::optional<v1::LedgerInfo>> GetLedgerInfo(uint64_t height) const;
  Result<std::optional<std::string>> GetCertificate(uint64_t height) const;
  // Audit path of a leaf in the tree of `tree_size` leaves (<= head leaf count).
  Result<std::vector<Hash32>> InclusionProof(uint64_t leaf_index, uint64_t tree_size) const;
  Result<std::vector<Hash32>> ConsistencyProof(uint64_t first_size, uint64_t second_size) const;
  // The latest ledger info with the validators' signatures over it (kUnavailable before the
  // first block).
  Result<v1::SignedLedgerInfo> LatestSignedLedgerInfo() const;
  // A committed tx with its inclusion path in the tree certified by the latest signed ledger
  // info, all from one head: the path always verifies against that ledger info's root.
  struct TxProof {
    TxRecord tx;
    std::vector<Hash32> path;
    uint64_t tree_size = 0;
    v1::SignedLedgerInfo ledger_info;
  };
  Result<std::optional<TxProof>> GetTxProof(const Hash32& tx_id) const;

 private:
  Ledger(std::unique_ptr<Store> store, v1::Genesis genesis);
  Result<void> InitOrCheckGenesis();
  // The txs at `leaves` (each must exist, else kNotFound), read in one batch; ascending leaves
  // read fastest.
  Result<std::vector<TxRecord>> GetTxsAtLeaves(const std::vector<uint64_t>& leaves) const;
  // The leaves of `lot`'s first `limit` events, oldest first.
  static std::vector<uint64_t> FirstHistoryLeaves(const v1::Lot& lot, size_t limit);
  // Ids under `prefix` in key order, one page after `page_token`.
  Result<Page<std::string>> ScanIdPage(Column column, const std::string& prefix,
                                       std::string_view page_token, size_t page_size) const;
  // Records under `prefixes` of `column` (indexes of ids, or the records themselves when
  // `column` is kState), merged in id order, whose record `load` returns and `keep` accepts,
  // one page after `page_token`, examining a bounded number of entries.
  template <class T>
  Result<Page<T>> ScanFilteredPage(
      Column column, const std::vector<std::string>& prefixes, std::string_view page_token,
      size_t page_size,
      const std::function<Result<std::optional<T>>(const std::string& id)>& load,
      const std::function<bool(const T&)>& keep) const;
  Result<void> LoadHead();
  void PublishHead(const v1::LedgerInfo& info, std::optional<v1::SignedLedgerInfo> signed_info);

  std::unique_ptr<Store> store_;
  v1::Genesis genesis_;
  Hash32 genesis_hash_{};
  std::unique_ptr<AccumulatorReader> accumulator_reader_;
  std::unique_ptr<Accumulator> accumulator_;  // executor thread only
  // Under the views of CheckTx and ExecuteAndCommit: executor thread only. Two generations
  // of 65,536 entries hold the members, sites and recent lots of a busy network in some tens
  // of MB.
  mutable CommittedStateCache committed_state_{1 << 16};

  std::atomic<size_t> page_scan_bound_{kMaxExaminedPerPage};
  mutable std::mutex head_mu_;
  v1::LedgerInfo head_;  // guarded by head_mu_; height never decreases
  std::optional<v1::SignedLedgerInfo> head_signed_;  // guarded by head_mu_; certifies head_
};

}  // namespace minetrace::ledger
