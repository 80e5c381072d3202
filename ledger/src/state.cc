#include "minetrace/ledger/state.h"

#include "minetrace/base/assert.h"

namespace minetrace::ledger {
namespace keys {

std::string Be64(uint64_t v) {
  std::string s;
  AppendBigEndian64(s, v);
  return s;
}
// '\0' ends a variable-length component so that "A" and "AB" never share a prefix scan.
std::string Member(std::string_view k) { return "m/" + std::string(k); }
std::string Site(std::string_view id) { return "s/" + std::string(id); }
std::string Tag(std::string_view id) { return "t/" + std::string(id); }
std::string Lot(std::string_view id) { return "l/" + std::string(id); }
std::string SiteMonthVolume(std::string_view site_id, int64_t block_time_ms) {
  // Months are counted as 30-day periods from the epoch: deterministic and calendar-free.
  constexpr int64_t kMonthMs = 30LL * 24 * 3600 * 1000;
  return "v/" + std::string(site_id) + '\0' + Be64(static_cast<uint64_t>(block_time_ms / kMonthMs));
}
std::string LotsByHolderPrefix(std::string_view holder) { return "lh/" + std::string(holder); }
std::string LotsBySitePrefix(std::string_view site) { return "ls/" + std::string(site) + '\0'; }
std::string LotsByStatusPrefix(v1::LotStatus status) {
  return "lt/" + std::string(1, static_cast<char>(status));
}
std::string AllLotsPrefix() { return "l/"; }
std::string LotHistoryPrefix(std::string_view lot) { return "lr/" + std::string(lot) + '\0'; }
std::string LotHistory(std::string_view lot, uint64_t leaf) {
  return LotHistoryPrefix(lot) + Be64(leaf);
}
std::string SitesByCountryPrefix(std::string_view c) { return "sc/" + std::string(c) + '\0'; }
std::string AllSitesPrefix() { return "s/"; }

}  // namespace keys

Result<std::optional<std::string>> StateView::Get(Column column, const std::string& key) const {
  auto it = writes_.find({column, key});
  if (it != writes_.end()) return it->second;
  if (parent_ != nullptr) return parent_->Get(column, key);
  return store_.Get(column, key);
}

void StateView::Put(Column column, std::string key, std::string value) {
  writes_[{column, std::move(key)}] = std::move(value);
}

void StateView::Delete(Column column, std::string key) {
  writes_[{column, std::move(key)}] = std::nullopt;
}

template <class Msg>
Result<std::optional<Msg>> StateView::GetRecord(const std::string& key) const {
  auto raw = Get(Column::kState, key);
  if (!raw) return tl::unexpected(raw.error());
  if (!raw->has_value()) return std::optional<Msg>();
  Msg msg;
  if (!msg.ParseFromString(**raw)) {
    return MakeError(ErrorCode::kDataLoss, "stored record under a corrupt key: cannot parse");
  }
  return std::optional<Msg>(std::move(msg));
}

Result<std::optional<v1::Member>> StateView::GetMember(std::string_view key) const {
  return GetRecord<v1::Member>(keys::Member(key));
}
Result<std::optional<v1::MineSite>> StateView::GetSite(std::string_view id) const {
  return GetRecord<v1::MineSite>(keys::Site(id));
}
Result<std::optional<v1::Tag>> StateView::GetTag(std::string_view id) const {
  return GetRecord<v1::Tag>(keys::Tag(id));
}
Result<std::optional<v1::Lot>> StateView::GetLot(std::string_view id) const {
  return GetRecord<v1::Lot>(keys::Lot(id));
}

void StateView::PutMember(const v1::Member& m) {
  MT_ASSERT(m.key().size() == 32);
  Put(Column::kState, keys::Member(m.key()), m.SerializeAsString());
}

void StateView::PutSite(const v1::MineSite& s) {
  MT_ASSERT(!s.site_id().empty());
  Put(Column::kState, keys::Site(s.site_id()), s.SerializeAsString());
  Put(Column::kIndex, keys::SitesByCountryPrefix(s.country()) + s.site_id(), "");
}

void StateView::PutTag(const v1::Tag& t) {
  MT_ASSERT(!t.tag_id().empty());
  Put(Column::kState, keys::Tag(t.tag_id()), t.SerializeAsString());
}

void StateView::PutLot(const std::optional<v1::Lot>& previous, const v1::Lot& lot) {
  MT_ASSERT(!lot.lot_id().empty());
  if (previous) {
    MT_ASSERT(previous->lot_id() == lot.lot_id());
    if (!previous->holder_key().empty()) {
      Delete(Column::kIndex, keys::LotsByHolderPrefix(previous->holder_key()) + lot.lot_id());
    }
    Delete(Column::kIndex, keys::LotsByStatusPrefix(previous->status()) + lot.lot_id());
  }
  if (!lot.holder_key().empty()) {
    Put(Column::kIndex, keys::LotsByHolderPrefix(lot.holder_key()) + lot.lot_id(), "");
  }
  Put(Column::kIndex, keys::LotsByStatusPrefix(lot.status()) + lot.lot_id(), "");
  Put(Column::kIndex, keys::LotsBySitePrefix(lot.site_id()) + lot.lot_id(), "");
  Put(Column::kState, keys::Lot(lot.lot_id()), lot.SerializeAsString());
}

void StateView::MergeIntoParent() {
  MT_ASSERT(parent_ != nullptr);
  for (auto& [k, v] : writes_) parent_->writes_[k] = std::move(v);
  writes_.clear();
}

std::vector<StoreWrite> StateView::TakeWrites() {
  std::vector<StoreWrite> out;
  out.reserve(writes_.size());
  for (auto& [k, v] : writes_) out.push_back(StoreWrite{k.first, k.second, std::move(v)});
  writes_.clear();
  return out;
}

}  // namespace minetrace::ledger
