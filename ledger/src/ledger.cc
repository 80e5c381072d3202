#include "minetrace/ledger/ledger.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>

#include "minetrace/base/assert.h"
#include "minetrace/ledger/proof/custody_event.h"
#include "minetrace/ledger/proof/genesis.h"
#include "minetrace/ledger/proof/merkle.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/ledger/rules.h"

namespace minetrace::ledger {
namespace {

constexpr std::string_view kMetaGenesisHash = "genesis_hash";
constexpr std::string_view kMetaHead = "head";  // LedgerInfo bytes
constexpr std::string_view kMetaSignedLedgerInfo = "signed_ledger_info";

std::string AccumulatorKey(uint32_t level, uint64_t index) {
  std::string k;
  k.push_back(static_cast<char>(level >> 24));
  k.push_back(static_cast<char>(level >> 16));
  k.push_back(static_cast<char>(level >> 8));
  k.push_back(static_cast<char>(level));
  AppendBigEndian64(k, index);
  return k;
}

// Frozen accumulator nodes, read from the store's accumulator column.
class StoreAccumulatorReader final : public AccumulatorReader {
 public:
  // `store` must outlive this reader.
  explicit StoreAccumulatorReader(const Store& store) : store_(store) {}
  std::optional<Hash32> GetNode(uint32_t level, uint64_t index) const override {
    auto v = store_.Get(Column::kAccumulator, AccumulatorKey(level, index));
    if (!v || !v->has_value() || (*v)->size() != 32) return std::nullopt;
    Hash32 h;
    std::copy((*v)->begin(), (*v)->end(), h.begin());
    return h;
  }

 private:
  const Store& store_;
};

std::string HashStr(const Hash32& h) { return std::string(h.begin(), h.end()); }

template <class Msg>
Result<Msg> ParseStored(const std::string& bytes, std::string_view what) {
  Msg m;
  if (!m.ParseFromString(bytes)) {
    return MakeError(ErrorCode::kDataLoss, "stored " + std::string(what) + " does not parse");
  }
  return m;
}

// Keeps each anomaly of `receipt` as a Flag record, in anomaly order.
Result<void> RecordFlags(StateView& block_state, const v1::Receipt& receipt) {
  for (const auto& a : receipt.anomalies()) {
    auto seq = block_state.NextSequence("flag");
    if (!seq) return tl::unexpected(seq.error());
    char id[32];
    std::snprintf(id, sizeof id, "FLG-%09llu", static_cast<unsigned long long>(*seq));
    v1::Flag f;
    f.set_flag_id(id);
    f.set_kind(a.kind());
    f.set_detail(a.detail());
    f.set_lot_id(a.lot_id());
    f.set_site_id(a.site_id());
    f.set_tag_id(a.tag_id());
    f.set_member_key(a.member_key().empty() ? receipt.signer() : a.member_key());
    f.set_shipment_id(a.shipment_id());
    f.set_tx_id(receipt.tx_id());
    f.set_height(receipt.height());
    f.set_leaf_index(receipt.leaf_index());
    f.set_raised_at_ms(receipt.block_time_ms());
    f.set_tx_status(receipt.status());
    MT_TRY(block_state.PutFlag(std::nullopt, f));
  }
  return {};
}

}  // namespace

Ledger::Ledger(std::unique_ptr<Store> store, v1::Genesis genesis)
    : store_(std::move(store)), genesis_(std::move(genesis)) {
  genesis_hash_ = proof::GenesisHash(genesis_);
  accumulator_reader_ = std::make_unique<StoreAccumulatorReader>(*store_);
}

Result<std::unique_ptr<Ledger>> Ledger::Open(const std::filesystem::path& dir,
                                             const v1::Genesis& genesis) {
  auto store = Store::Open(dir);
  if (!store) return tl::unexpected(store.error());
  std::unique_ptr<Ledger> ledger(new Ledger(std::move(*store), genesis));
  MT_TRY(ledger->InitOrCheckGenesis());
  MT_TRY(ledger->LoadHead());
  return ledger;
}

Result<void> Ledger::InitOrCheckGenesis() {
  auto stored = store_->Get(Column::kMeta, kMetaGenesisHash);
  if (!stored) return tl::unexpected(stored.error());
  if (stored->has_value()) {
    if (**stored != HashStr(genesis_hash_)) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "the data directory belongs to another network: its genesis hash is " +
                           ToHex(AsBytes(**stored)) + " but the genesis file hashes to " +
                           ToHex(genesis_hash_) +
                           "; use the matching genesis file or a fresh data directory");
    }
    return {};
  }
  // First start: the founding administrators are members at height 0.
  StateView state(*store_);
  for (const auto& admin : genesis_.administrators()) {
    v1::Member m;
    m.set_key(admin.key());
    m.set_name(admin.name());
    m.add_roles(v1::ROLE_ADMINISTRATOR);
    m.set_status(v1::MEMBER_STATUS_ACTIVE);
    state.PutMember(m);
  }
  v1::LedgerInfo info;
  info.set_chain_id(genesis_.chain_id());
  info.set_height(0);
  info.set_block_id(HashStr(genesis_hash_));  // block 1's parent is the genesis
  info.set_accumulator_root(HashStr(proof::EmptyRoot()));
  info.set_leaf_count(0);
  info.set_block_time_ms(genesis_.genesis_time_ms());
  std::vector<StoreWrite> writes = state.TakeWrites();
  writes.push_back({Column::kMeta, std::string(kMetaHead), info.SerializeAsString()});
  writes.push_back({Column::kLedgerInfos, keys::Be64(0), info.SerializeAsString()});
  writes.push_back({Column::kMeta, std::string(kMetaGenesisHash), HashStr(genesis_hash_)});
  return store_->Commit(writes);
}

Result<void> Ledger::LoadHead() {
  auto raw = store_->Get(Column::kMeta, kMetaHead);
  if (!raw) return tl::unexpected(raw.error());
  if (!raw->has_value()) return MakeError(ErrorCode::kDataLoss, "ledger head is missing");
  auto info = ParseStored<v1::LedgerInfo>(**raw, "ledger head");
  if (!info) return tl::unexpected(info.error());
  accumulator_ = std::make_unique<Accumulator>(*accumulator_reader_, info->leaf_count());
  MT_TRY(accumulator_->status());
  std::optional<v1::SignedLedgerInfo> signed_info;
  auto raw_signed = store_->Get(Column::kMeta, kMetaSignedLedgerInfo);
  if (!raw_signed) return tl::unexpected(raw_signed.error());
  if (raw_signed->has_value()) {
    auto parsed = ParseStored<v1::SignedLedgerInfo>(**raw_signed, "signed ledger info");
    if (!parsed) return tl::unexpected(parsed.error());
    signed_info = std::move(*parsed);
  }
  // Pair assertion around disk: the stored nodes must give back the stored root.
  if (HashStr(accumulator_->Root()) != info->accumulator_root()) {
    return MakeError(ErrorCode::kDataLoss,
                     "accumulator nodes do not match the stored ledger root at height " +
                         std::to_string(info->height()));
  }
  PublishHead(*info, std::move(signed_info));
  return {};
}

void Ledger::PublishHead(const v1::LedgerInfo& info,
                         std::optional<v1::SignedLedgerInfo> signed_info) {
  std::lock_guard lock(head_mu_);
  MT_ASSERT(info.height() >= head_.height());
  head_ = info;
  head_signed_ = std::move(signed_info);
}

v1::LedgerInfo Ledger::head() const {
  std::lock_guard lock(head_mu_);
  return head_;
}

std::unique_ptr<StateView> Ledger::NewPendingState() const {
  return std::make_unique<StateView>(*store_, &committed_state_);
}

Result<void> Ledger::CheckTx(StateView& pending, const v1::TxBody& body, std::string_view signer,
                             int64_t now_ms) const {
  v1::LedgerInfo h = head();
  BlockContext ctx{genesis_.chain_id(), h.height() + 1, std::max(now_ms, h.block_time_ms())};
  StateView layer(pending);
  std::vector<v1::Anomaly> refusal_anomalies;
  auto effects = ExecuteTx(layer, ctx, body, signer, &refusal_anomalies);
  if (!effects) {
    const ErrorCode code = effects.error().code;
    bool ours = code == ErrorCode::kInternal || code == ErrorCode::kDataLoss;
    // A flagged refusal is admitted (see ledger.h) but changes nothing pending.
    if (!ours && !refusal_anomalies.empty()) return {};
    return tl::unexpected(effects.error());
  }
  layer.MergeIntoParent();
  return {};
}

Result<CommittedBlock> Ledger::ExecuteAndCommit(
    const BlockToExecute& block, const crypto::PrivateKey& signer,
    const std::function<bool(const Hash32&, const v1::SignedTx&)>& signature_checked) {
  const v1::LedgerInfo parent = head();
  MT_ASSERT(accumulator_->leaf_count() == parent.leaf_count());
  if (block.height != parent.height() + 1) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "block height " + std::to_string(block.height) +
                         " does not follow the ledger head " + std::to_string(parent.height()));
  }
  BlockContext ctx{genesis_.chain_id(), block.height,
                   std::max(block.time_ms, parent.block_time_ms())};

  CommittedBlock out;
  // Which txs run: deterministic from the block and the committed ledger alone.
  std::vector<const v1::SignedTx*> txs;
  std::vector<Hash32> tx_ids;
  std::vector<v1::TxBody> bodies;
  std::vector<Hash32> tx_leaves;
  std::set<Hash32> ids_in_block;
  for (const auto& tx : block.txs) {
    Hash32 id = proof::TxId(tx);
    if (!ids_in_block.insert(id).second) {
      out.skipped.push_back({id, "repeats a tx earlier in the block"});
      continue;
    }
    auto seen = HasTx(id);
    if (!seen) return tl::unexpected(seen.error());
    if (*seen) {
      out.skipped.push_back({id, "already committed"});
      continue;
    }
    auto body = proof::CheckTxEnvelope(tx, !signature_checked(id, tx));
    if (!body) {
      out.skipped.push_back({id, body.error().message});
      continue;
    }
    txs.push_back(&tx);
    tx_ids.push_back(id);
    bodies.push_back(std::move(*body));
    tx_leaves.push_back(proof::TxRootLeaf(tx));
  }

  StateView block_state(*store_, &committed_state_);
  std::vector<StoreWrite> writes;
  std::vector<Hash32> receipt_leaves;
  uint64_t leaf = parent.leaf_count();
  for (size_t i = 0; i < txs.size(); ++i, ++leaf) {
    const v1::SignedTx& tx = *txs[i];
    const Hash32& id = tx_ids[i];
    v1::Receipt receipt;
    receipt.set_tx_id(HashStr(id));
    receipt.set_signer(tx.signer());
    receipt.set_height(ctx.height);
    receipt.set_index(static_cast<uint32_t>(i));
    receipt.set_block_time_ms(ctx.block_time_ms);
    receipt.set_leaf_index(leaf);

    StateView tx_state(block_state);
    std::vector<v1::Anomaly> refusal_anomalies;
    auto effects = ExecuteTx(tx_state, ctx, bodies[i], tx.signer(), &refusal_anomalies);
    if (!effects && (effects.error().code == ErrorCode::kInternal ||
                     effects.error().code == ErrorCode::kDataLoss)) {
      // Our disk failed, not the tx: abort the block rather than commit a wrong verdict.
      return tl::unexpected(effects.error());
    }
    std::vector<v1::LotLink> links;
    if (effects) {
      receipt.set_status(v1::TX_STATUS_OK);
      for (const auto& link : effects->lot_links) *receipt.add_lot_links() = link;
      for (const auto& a : effects->anomalies) *receipt.add_anomalies() = a;
    } else {
      receipt.set_status(v1::TX_STATUS_FAILED);
      receipt.set_reason(effects.error().message);
      receipt.set_error_code(std::string(ErrorCodeId(effects.error().code)));
      for (const auto& a : refusal_anomalies) *receipt.add_anomalies() = a;
    }
    std::string receipt_bytes = receipt.SerializeAsString();
    Hash32 receipt_hash = proof::ReceiptHash(AsBytes(receipt_bytes));
    if (effects) {
      // Each touched lot now points at this receipt: the backward hash chain of its history;
      // and its first events are kept as a provenance lists them.
      for (const auto& link : effects->lot_links) {
        auto lot = tx_state.GetLot(link.lot_id());
        if (!lot) return tl::unexpected(lot.error());
        MT_ASSERT(lot->has_value());
        v1::Lot updated = **lot;
        updated.set_last_receipt_hash(HashStr(receipt_hash));
        updated.add_history_leaves(leaf);
        tx_state.PutLot(**lot, updated);
        const size_t event_count = static_cast<size_t>(updated.history_leaves_size());
        if (event_count > kMaxStoredEventsPerLot) continue;
        auto appended = tx_state.AppendLotEvent(
            link.lot_id(), event_count == 1,
            proof::CustodyEventOf(bodies[i], tx.signer(), receipt, receipt_hash, link.lot_id()));
        if (!appended) return tl::unexpected(appended.error());
      }
      tx_state.MergeIntoParent();
    }
    // Flags go to the block's layer, never the tx's: a refused tx's flags must stay.
    MT_TRY(RecordFlags(block_state, receipt));
    v1::StoredTx stored;
    tx.SerializeToString(stored.mutable_signed_tx());
    *stored.mutable_receipt() = receipt_bytes;
    writes.push_back({Column::kTxs, keys::Be64(leaf), stored.SerializeAsString()});
    writes.push_back({Column::kTxIndex, HashStr(id), keys::Be64(leaf)});
    receipt_leaves.push_back(receipt_hash);
    out.txs.push_back(
        TxRecord{tx, id, std::move(receipt_bytes), std::move(receipt), receipt_hash});
  }

  accumulator_->Append(receipt_leaves);
  for (const auto& node : accumulator_->PendingNodes()) {
    writes.push_back({Column::kAccumulator, AccumulatorKey(node.level, node.index),
                      HashStr(node.hash)});
  }
  for (auto& w : block_state.TakeWrites()) writes.push_back(std::move(w));

  v1::BlockHeader header;
  header.set_chain_id(genesis_.chain_id());
  header.set_height(ctx.height);
  header.set_parent_id(parent.block_id());
  header.set_timestamp_ms(ctx.block_time_ms);
  header.set_proposer(block.proposer_key);
  header.set_round(block.round);
  header.set_tx_root(HashStr(proof::MerkleRootOfLeafHashes(tx_leaves)));
  header.set_tx_count(static_cast<uint32_t>(txs.size()));
  header.set_parent_accumulator_root(parent.accumulator_root());
  header.set_parent_leaf_count(parent.leaf_count());
  std::string header_bytes = header.SerializeAsString();
  out.block_id = proof::BlockId(AsBytes(header_bytes));
  out.block.set_header(header_bytes);
  for (const auto* tx : txs) *out.block.add_txs() = *tx;

  v1::LedgerInfo& info = out.ledger_info;
  info.set_chain_id(genesis_.chain_id());
  info.set_height(ctx.height);
  info.set_block_id(HashStr(out.block_id));
  info.set_accumulator_root(HashStr(accumulator_->Root()));
  info.set_leaf_count(accumulator_->leaf_count());
  info.set_block_time_ms(ctx.block_time_ms);
  std::string info_bytes = info.SerializeAsString();
  v1::SignedLedgerInfo signed_info;
  signed_info.set_ledger_info(info_bytes);
  auto* sig = signed_info.add_signatures();
  sig->set_validator_key(HashStr(signer.public_key()));
  crypto::Signature s = signer.Sign(proof::LedgerInfoSigningHash(AsBytes(info_bytes)));
  sig->set_signature(std::string(s.begin(), s.end()));

  writes.push_back({Column::kBlocks, keys::Be64(ctx.height), header_bytes});
  writes.push_back({Column::kBlockIds, HashStr(out.block_id), keys::Be64(ctx.height)});
  writes.push_back({Column::kLedgerInfos, keys::Be64(ctx.height), info_bytes});
  writes.push_back({Column::kCertificates, keys::Be64(ctx.height), block.certificate});
  writes.push_back({Column::kMeta, std::string(kMetaHead), info_bytes});
  writes.push_back(
      {Column::kMeta, std::string(kMetaSignedLedgerInfo), signed_info.SerializeAsString()});
  for (const auto& w : block.consensus_writes) {
    MT_ASSERT(w.column == Column::kConsensus);
    writes.push_back(w);
  }

  // In column and key order: RocksDB inserts a sorted batch into its memtable at about half
  // the cost of the same writes in execution order (callgrind, blocks of 1000 txs). Stable,
  // so that of two writes of one key (none are made today) the later still wins.
  std::stable_sort(writes.begin(), writes.end(), [](const StoreWrite& a, const StoreWrite& b) {
    return a.column != b.column ? a.column < b.column : a.key < b.key;
  });
  auto committed = store_->Commit(writes);
  if (!committed) {
    accumulator_->DiscardPending();
    return tl::unexpected(committed.error());
  }
  accumulator_->MarkCommitted();
  PublishHead(info, std::move(signed_info));
  committed_state_.Apply(std::move(writes));
  return out;
}

// ---- queries ----

Result<bool> Ledger::HasTx(const Hash32& tx_id) const {
  auto v = store_->Get(Column::kTxIndex, HashStr(tx_id));
  if (!v) return tl::unexpected(v.error());
  return v->has_value();
}

namespace {

// The record of the tx at `leaf` from its stored bytes (a StoredTx: the tx and its receipt).
Result<TxRecord> TxRecordOf(uint64_t leaf, const std::optional<std::string>& stored) {
  if (!stored.has_value()) {
    return MakeError(ErrorCode::kNotFound, "no transaction at leaf " + std::to_string(leaf));
  }
  auto both = ParseStored<v1::StoredTx>(*stored, "stored transaction");
  if (!both) return tl::unexpected(both.error());
  TxRecord rec;
  auto tx = ParseStored<v1::SignedTx>(both->signed_tx(), "transaction");
  if (!tx) return tl::unexpected(tx.error());
  auto receipt = ParseStored<v1::Receipt>(both->receipt(), "receipt");
  if (!receipt) return tl::unexpected(receipt.error());
  rec.tx = std::move(*tx);
  rec.receipt = std::move(*receipt);
  auto id = Hash32FromBytes(AsBytes(rec.receipt.tx_id()));
  if (!id) return MakeError(ErrorCode::kDataLoss, "stored receipt has no valid tx id");
  rec.tx_id = *id;
  rec.receipt_bytes = std::move(*both->mutable_receipt());
  rec.receipt_hash = proof::ReceiptHash(AsBytes(rec.receipt_bytes));
  return rec;
}

}  // namespace

Result<TxRecord> Ledger::GetTxAtLeaf(uint64_t leaf) const {
  auto stored = store_->Get(Column::kTxs, keys::Be64(leaf));
  if (!stored) return tl::unexpected(stored.error());
  return TxRecordOf(leaf, *stored);
}

Result<std::vector<TxRecord>> Ledger::GetTxsAtLeaves(const std::vector<uint64_t>& leaves) const {
  // Big-endian keys sort as the leaves: ascending leaves give sorted keys.
  std::vector<std::string> keys;
  keys.reserve(leaves.size());
  for (uint64_t leaf : leaves) keys.push_back(keys::Be64(leaf));
  auto stored = store_->MultiGet(Column::kTxs, keys);
  if (!stored) return tl::unexpected(stored.error());
  std::vector<TxRecord> out;
  out.reserve(leaves.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    auto rec = TxRecordOf(leaves[i], (*stored)[i]);
    if (!rec) return tl::unexpected(rec.error());
    out.push_back(std::move(*rec));
  }
  return out;
}

Result<std::optional<TxRecord>> Ledger::GetTx(const Hash32& tx_id) const {
  auto leaf = store_->Get(Column::kTxIndex, HashStr(tx_id));
  if (!leaf) return tl::unexpected(leaf.error());
  if (!leaf->has_value()) return std::optional<TxRecord>();
  auto rec = GetTxAtLeaf(ReadBigEndian64(**leaf));
  if (!rec) return tl::unexpected(rec.error());
  return std::optional<TxRecord>(std::move(*rec));
}

Result<std::optional<v1::Lot>> Ledger::GetLot(std::string_view lot_id) const {
  return StateView(*store_).GetLot(lot_id);
}

std::vector<uint64_t> Ledger::FirstHistoryLeaves(const v1::Lot& lot, size_t limit) {
  const auto& all = lot.history_leaves();
  return std::vector<uint64_t>(
      all.begin(), all.begin() + static_cast<int>(std::min<size_t>(limit, all.size())));
}

Result<std::vector<TxRecord>> Ledger::GetLotHistory(const v1::Lot& lot, size_t limit) const {
  return GetTxsAtLeaves(FirstHistoryLeaves(lot, limit));
}

Result<Page<std::string>> Ledger::ScanIdPage(Column column, const std::string& prefix,
                                            std::string_view page_token,
                                            size_t page_size) const {
  MT_ASSERT(page_size > 0);
  // The token is the hex of the last id returned: the next page starts strictly after it.
  std::string start_after;
  if (!page_token.empty()) {
    auto last = FromHex(page_token);
    if (!last) return MakeError(ErrorCode::kInvalidArgument, "page_token is not valid");
    start_after = prefix + ToString(*last);
  }
  Page<std::string> page;
  MT_TRY(store_->Scan(column, prefix, start_after, std::numeric_limits<size_t>::max(),
                      [&](std::string_view k, std::string_view) {
                        std::string_view id = k.substr(prefix.size());
                        // A key with '\0' after the id holds a record kept beside the one the
                        // id names (a lot's events, keys::LotEvents): not an id of its own.
                        if (id.find('\0') != std::string_view::npos) return true;
                        page.items.emplace_back(id);
                        return page.items.size() <= page_size;
                      }));
  if (page.items.size() > page_size) {
    page.items.pop_back();
    page.next_page_token = ToHex(AsBytes(page.items.back()));
  }
  return page;
}

Result<Page<v1::Lot>> Ledger::ListLots(const LotFilter& filter, std::string_view page_token,
                                       size_t page_size) const {
  Column column = Column::kIndex;
  std::string prefix;
  if (!filter.holder_key.empty()) {
    prefix = keys::LotsByHolderPrefix(filter.holder_key);
  } else if (!filter.site_id.empty()) {
    prefix = keys::LotsBySitePrefix(filter.site_id);
  } else if (filter.status != v1::LOT_STATUS_UNSPECIFIED) {
    prefix = keys::LotsByStatusPrefix(filter.status);
  } else {
    column = Column::kState;
    prefix = keys::AllLotsPrefix();
  }
  auto ids = ScanIdPage(column, prefix, page_token, page_size);
  if (!ids) return tl::unexpected(ids.error());
  Page<v1::Lot> page;
  page.next_page_token = std::move(ids->next_page_token);
  StateView state(*store_);
  for (const auto& id : ids->items) {
    auto lot = state.GetLot(id);
    if (!lot) return tl::unexpected(lot.error());
    if (lot->has_value()) page.items.push_back(std::move(**lot));
  }
  return page;
}

Result<std::optional<v1::MineSite>> Ledger::GetMineSite(std::string_view site_id) const {
  auto site = StateView(*store_).GetSite(site_id);
  if (!site) return tl::unexpected(site.error());
  if (site->has_value()) (*site)->set_status(EffectiveSiteStatus(**site, head().block_time_ms()));
  return site;
}

Result<Page<v1::MineSite>> Ledger::ListMineSites(std::string_view country,
                                                 std::string_view page_token,
                                                 size_t page_size) const {
  Column column = country.empty() ? Column::kState : Column::kIndex;
  std::string prefix =
      country.empty() ? keys::AllSitesPrefix() : keys::SitesByCountryPrefix(country);
  auto ids = ScanIdPage(column, prefix, page_token, page_size);
  if (!ids) return tl::unexpected(ids.error());
  Page<v1::MineSite> page;
  page.next_page_token = std::move(ids->next_page_token);
  for (const auto& id : ids->items) {
    auto site = GetMineSite(id);
    if (!site) return tl::unexpected(site.error());
    if (site->has_value()) page.items.push_back(std::move(**site));
  }
  return page;
}

Result<std::optional<v1::Member>> Ledger::GetMember(std::string_view key) const {
  return StateView(*store_).GetMember(key);
}

Result<std::optional<v1::Tag>> Ledger::GetTag(std::string_view tag_id) const {
  StateView state(*store_);
  auto tag = state.GetTag(tag_id);
  if (!tag) return tl::unexpected(tag.error());
  if (!tag->has_value() || (*tag)->status() != v1::TAG_STATUS_ALLOCATED ||
      (*tag)->site_id().empty()) {
    return tag;
  }
  auto site = state.GetSite((*tag)->site_id());
  if (!site) return tl::unexpected(site.error());
  // Withdrawal is O(1) on the ledger (a height on the site), so each tag's status is derived.
  if (site->has_value() && (*site)->tags_withdrawn_height() > 0 &&
      (*tag)->allocated_height() <= (*site)->tags_withdrawn_height()) {
    (*tag)->set_status(v1::TAG_STATUS_WITHDRAWN);
  }
  return tag;
}

Result<std::optional<v1::Block>> Ledger::GetBlock(uint64_t height) const {
  auto header = store_->Get(Column::kBlocks, keys::Be64(height));
  if (!header) return tl::unexpected(header.error());
  if (!header->has_value()) return std::optional<v1::Block>();
  auto h = ParseStored<v1::BlockHeader>(**header, "block header");
  if (!h) return tl::unexpected(h.error());
  v1::Block block;
  block.set_header(**header);
  for (uint64_t i = 0; i < h->tx_count(); ++i) {
    auto rec = GetTxAtLeaf(h->parent_leaf_count() + i);
    if (!rec) return tl::unexpected(rec.error());
    *block.add_txs() = rec->tx;
  }
  return std::optional<v1::Block>(std::move(block));
}

Result<std::optional<v1::LedgerInfo>> Ledger::GetLedgerInfo(uint64_t height) const {
  auto raw = store_->Get(Column::kLedgerInfos, keys::Be64(height));
  if (!raw) return tl::unexpected(raw.error());
  if (!raw->has_value()) return std::optional<v1::LedgerInfo>();
  auto info = ParseStored<v1::LedgerInfo>(**raw, "ledger info");
  if (!info) return tl::unexpected(info.error());
  MT_ASSERT(info->height() == height);
  return std::optional<v1::LedgerInfo>(std::move(*info));
}

Result<std::optional<std::string>> Ledger::GetCertificate(uint64_t height) const {
  return store_->Get(Column::kCertificates, keys::Be64(height));
}

Result<void> Ledger::WriteConsensusRecords(const std::vector<StoreWrite>& writes) {
  for (const auto& w : writes) MT_ASSERT(w.column == Column::kConsensus);
  return store_->Commit(writes);
}

Result<std::optional<std::string>> Ledger::GetConsensusRecord(std::string_view key) const {
  return store_->Get(Column::kConsensus, key);
}

Result<void> Ledger::ScanConsensusRecords(
    std::string_view prefix,
    const std::function<bool(std::string_view key, std::string_view value)>& visit) const {
  // The node keeps at most its bounded set of uncommitted blocks here.
  constexpr size_t kMaxRecords = 1'000'000;
  return store_->Scan(Column::kConsensus, prefix, "", kMaxRecords, visit);
}

Result<std::vector<Hash32>> Ledger::InclusionProof(uint64_t leaf_index, uint64_t tree_size) const {
  // A fresh accumulator over committed nodes: safe beside the executor's appends, because
  // frozen nodes never change once written.
  Accumulator committed(*accumulator_reader_, head().leaf_count());
  MT_TRY(committed.status());
  return committed.InclusionProof(leaf_index, tree_size);
}

Result<std::vector<Hash32>> Ledger::ConsistencyProof(uint64_t first, uint64_t second) const {
  Accumulator committed(*accumulator_reader_, head().leaf_count());
  MT_TRY(committed.status());
  return committed.ConsistencyProof(first, second);
}

Result<v1::SignedLedgerInfo> Ledger::LatestSignedLedgerInfo() const {
  std::lock_guard lock(head_mu_);
  if (!head_signed_) {
    return MakeError(ErrorCode::kUnavailable,
                     "no block committed yet: there is no signed ledger info to serve");
  }
  return *head_signed_;
}

Result<std::optional<Ledger::TxProof>> Ledger::GetTxProof(const Hash32& tx_id) const {
  v1::LedgerInfo info;
  std::optional<v1::SignedLedgerInfo> signed_info;
  {
    std::lock_guard lock(head_mu_);
    info = head_;
    signed_info = head_signed_;
  }
  auto rec = GetTx(tx_id);
  if (!rec) return tl::unexpected(rec.error());
  if (!rec->has_value()) return std::optional<TxProof>();
  uint64_t leaf = (*rec)->receipt.leaf_index();
  if (!signed_info || leaf >= info.leaf_count()) {
    // Committed after the head we read was published: a moment later it is covered.
    return MakeError(ErrorCode::kUnavailable, "tx committed a moment ago; retry for its proof");
  }
  Accumulator committed(*accumulator_reader_, info.leaf_count());
  MT_TRY(committed.status());
  auto path = committed.InclusionProof(leaf, info.leaf_count());
  if (!path) return tl::unexpected(path.error());
  TxProof out{std::move(**rec), std::move(*path), info.leaf_count(), std::move(*signed_info)};
  return std::optional<TxProof>(std::move(out));
}

}  // namespace minetrace::ledger
