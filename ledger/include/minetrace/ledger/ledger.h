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

struct LotFilter {
  std::string holder_key;  // at most one of the three is set
  std::string site_id;
  v1::LotStatus status = v1::LOT_STATUS_UNSPECIFIED;
};

template <class T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

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
  Result<void> CheckTx(StateView& pending, const v1::TxBody& body, std::string_view signer,
                       int64_t now_ms) const;
  // A read-only layer over committed state, for CheckTx.
  std::unique_ptr<StateView> NewPendingState() const;

  // Executes a committed block and commits it durably, with the ledger info signed by
  // `signer` (this node). A tx whose id `signature_checked` returns true for is not verified
  // again. Txs that repeat a committed or earlier tx id, or whose envelope or signature is bad,
  // are skipped (CommittedBlock::skipped), never executed; the block itself always commits.
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
  Result<std::vector<TxRecord>> GetLotHistory(std::string_view lot_id, size_t limit) const;
  Result<Page<v1::Lot>> ListLots(const LotFilter& filter, std::string_view page_token,
                                 size_t page_size) const;
  // Sites with their effective status at the head's block time.
  Result<std::optional<v1::MineSite>> GetMineSite(std::string_view site_id) const;
  Result<Page<v1::MineSite>> ListMineSites(std::string_view country, std::string_view page_token,
                                           size_t page_size) const;
  Result<std::optional<v1::Member>> GetMember(std::string_view member_key) const;
  Result<std::optional<v1::Tag>> GetTag(std::string_view tag_id) const;
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
  // Ids under `prefix` in key order, one page after `page_token`.
  Result<Page<std::string>> ScanIdPage(Column column, const std::string& prefix,
                                       std::string_view page_token, size_t page_size) const;
  Result<void> LoadHead();
  void PublishHead(const v1::LedgerInfo& info, std::optional<v1::SignedLedgerInfo> signed_info);

  std::unique_ptr<Store> store_;
  v1::Genesis genesis_;
  Hash32 genesis_hash_{};
  std::unique_ptr<AccumulatorReader> accumulator_reader_;
  std::unique_ptr<Accumulator> accumulator_;  // executor thread only

  mutable std::mutex head_mu_;
  v1::LedgerInfo head_;  // guarded by head_mu_; height never decreases
  std::optional<v1::SignedLedgerInfo> head_signed_;  // guarded by head_mu_; certifies head_
};

}  // namespace minetrace::ledger
