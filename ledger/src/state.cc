#include "minetrace/ledger/state.h"

#include <set>

#include "minetrace/base/assert.h"
#include "minetrace/base/bytes.h"

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
// Right after the lot's own key ("l/<lot>"), so that the two usually share a table block: a
// provenance reads both for every lot in it.
std::string LotEvents(std::string_view id) { return "l/" + std::string(id) + '\0'; }
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
std::string SitesByCountryPrefix(std::string_view c) { return "sc/" + std::string(c) + '\0'; }
std::string AllSitesPrefix() { return "s/"; }
std::string LotsInTransitToPrefix(std::string_view k) { return "lto/" + std::string(k); }
std::string Inspection(std::string_view site, uint32_t seq) {
  return InspectionsPrefix(site) + Be64(seq);
}
std::string InspectionsPrefix(std::string_view site) { return "si/" + std::string(site) + '\0'; }
std::string Shipment(std::string_view id) { return "sh/" + std::string(id); }
std::string AllShipmentsPrefix() { return "sh/"; }
std::string ShipmentsByExporterPrefix(std::string_view k) { return "she/" + std::string(k); }
std::string ShipmentsByStatusPrefix(v1::ShipmentStatus status) {
  return "sht/" + std::string(1, static_cast<char>(status));
}
std::string CertificateNumber(std::string_view number) { return "cn/" + std::string(number); }
std::string Incident(std::string_view id) { return "i/" + std::string(id); }
std::string AllIncidentsPrefix() { return "i/"; }
std::string IncidentsBySubjectPrefix(v1::IncidentSubjectKind kind, std::string_view id) {
  return "is/" + std::string(1, static_cast<char>(kind)) + std::string(id) + '\0';
}
std::string OpenLevelOneIncidentsPrefix(v1::IncidentSubjectKind kind, std::string_view id) {
  return "i1/" + std::string(1, static_cast<char>(kind)) + std::string(id) + '\0';
}
std::string IncidentsByStatusPrefix(v1::IncidentStatus status) {
  return "ist/" + std::string(1, static_cast<char>(status));
}
std::string OpenLevelOneIncidentIds(v1::IncidentSubjectKind kind, std::string_view id) {
  return "i1n/" + std::string(1, static_cast<char>(kind)) + std::string(id);
}
std::string Flag(std::string_view id) { return "f/" + std::string(id); }
std::string AllFlagsPrefix() { return "f/"; }
std::string FlagsByKindPrefix(std::string_view kind) { return "fk/" + std::string(kind) + '\0'; }
std::string FlagsByLotPrefix(std::string_view lot) { return "fl/" + std::string(lot) + '\0'; }
std::string FlagsBySitePrefix(std::string_view site) { return "fs/" + std::string(site) + '\0'; }
std::string FlagsByMemberPrefix(std::string_view k) { return "fm/" + std::string(k); }
std::string MassBalance(std::string_view k) { return "mb/" + std::string(k); }
std::string Sequence(std::string_view name) { return "seq/" + std::string(name); }

}  // namespace keys

const std::optional<std::string>* CommittedStateCache::Find(const std::string& key) {
  if (auto it = newer_.find(key); it != newer_.end()) return &it->second;
  auto old = older_.find(key);
  if (old == older_.end()) return nullptr;
  auto node = older_.extract(old);
  return Put(std::move(node.key()), std::move(node.mapped()));
}

std::optional<std::string>* CommittedStateCache::Put(std::string key,
                                                      std::optional<std::string> value) {
  if (newer_.size() >= max_entries_) {
    older_ = std::move(newer_);
    newer_.clear();
  }
  return &newer_.insert_or_assign(std::move(key), std::move(value)).first->second;
}

void CommittedStateCache::Remember(std::string key, std::optional<std::string> value) {
  Put(std::move(key), std::move(value));
}

void CommittedStateCache::Apply(std::vector<StoreWrite>&& writes) {
  for (auto& w : writes) {
    if (w.column != Column::kState) continue;
    if (auto it = newer_.find(w.key); it != newer_.end()) {
      it->second = std::move(w.value);
    } else if (auto old = older_.find(w.key); old != older_.end()) {
      old->second = std::move(w.value);
    }
  }
}

Result<std::optional<std::string>> StateView::Get(Column column, const std::string& key) const {
  // The key is built once for the whole walk down the layers (a tx's, its block's or the
  // admission layer, ...).
  const Key k{column, key};
  for (const StateView* view = this;; view = view->parent_) {
    auto it = view->writes_.find(k);
    if (it != view->writes_.end()) return it->second;
    if (view->parent_ == nullptr) return view->ReadCommitted(column, key);
  }
}

Result<std::optional<std::string>> StateView::ReadCommitted(Column column,
                                                            const std::string& key) const {
  const bool cached = committed_ != nullptr && column == Column::kState;
  if (cached) {
    if (const auto* value = committed_->Find(key)) return *value;
  }
  auto read = store_.Get(column, key);
  if (read && cached) committed_->Remember(key, *read);
  return read;
}

void StateView::Put(Column column, std::string key, std::string value) {
  writes_[{column, std::move(key)}] = std::move(value);
}

void StateView::Delete(Column column, std::string key) {
  writes_[{column, std::move(key)}] = std::nullopt;
}

void StateView::OverlayIndexWrite(Writes& writes, Writes::iterator held,
                                  std::optional<std::string>&& entry) {
  MT_ASSERT(held->first.first == Column::kIndex);
  if (held->second.has_value() != entry.has_value()) {
    writes.erase(held);  // added then removed, or removed then added: the layer below stands
  } else {
    held->second = std::move(entry);
  }
}

void StateView::PlaceIndexWrite(Key key, std::optional<std::string> entry) {
  MT_ASSERT(key.first == Column::kIndex);
  // One hash lookup; an index entry's value is empty, so the copy costs nothing.
  auto [it, inserted] = writes_.try_emplace(std::move(key), entry);
  if (!inserted) OverlayIndexWrite(writes_, it, std::move(entry));
}

void StateView::AddIndexEntry(std::string key) {
  PlaceIndexWrite({Column::kIndex, std::move(key)}, std::string());
}

void StateView::RemoveIndexEntry(std::string key) {
  PlaceIndexWrite({Column::kIndex, std::move(key)}, std::nullopt);
}

void StateView::ReplaceIndexEntry(const std::string& before, const std::string& after) {
  if (before == after) return;
  if (!before.empty()) RemoveIndexEntry(before);
  if (!after.empty()) AddIndexEntry(after);
}

template <class Msg>
Result<std::optional<Msg>> StateView::GetRecord(const std::string& key) const {
  auto raw = Get(Column::kState, key);
  if (!raw) return tl::unexpected(raw.error());
  if (!raw->has_value()) return std::optional<Msg>();
  auto msg = ParseStateRecord<Msg>(**raw);
  if (!msg) return tl::unexpected(msg.error());
  return std::optional<Msg>(std::move(*msg));
}

template <class Msg, class Change>
Result<void> StateView::ChangeRecord(const std::string& key, Change change) {
  auto record = GetRecord<Msg>(key);
  if (!record) return tl::unexpected(record.error());
  if (!record->has_value()) return {};
  change(**record);
  Put(Column::kState, key, (*record)->SerializeAsString());
  return {};
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
  // Never removed (a site keeps its country), so writing it again at each update is harmless.
  Put(Column::kIndex, keys::SitesByCountryPrefix(s.country()) + s.site_id(), "");
}

void StateView::PutTag(const v1::Tag& t) {
  MT_ASSERT(!t.tag_id().empty());
  Put(Column::kState, keys::Tag(t.tag_id()), t.SerializeAsString());
}

void StateView::PutLot(const std::optional<v1::Lot>& previous, const v1::Lot& lot) {
  MT_ASSERT(!lot.lot_id().empty());
  const std::string& id = lot.lot_id();
  auto holder_entry = [&](const v1::Lot& l) {
    return l.holder_key().empty() ? std::string() : keys::LotsByHolderPrefix(l.holder_key()) + id;
  };
  auto transit_entry = [&](const v1::Lot& l) {
    return l.dispatched_to().empty() ? std::string()
                                     : keys::LotsInTransitToPrefix(l.dispatched_to()) + id;
  };
  auto status_entry = [&](const v1::Lot& l) { return keys::LotsByStatusPrefix(l.status()) + id; };
  if (previous) {
    MT_ASSERT(previous->lot_id() == id);
    // A lot's sites are set when it is made.
    MT_ASSERT(previous->site_id() == lot.site_id() &&
              previous->mine_site_ids_size() == lot.mine_site_ids_size());
  } else {
    // A processed lot has no site of its own; it is listed under each of its mine sites.
    if (!lot.site_id().empty()) AddIndexEntry(keys::LotsBySitePrefix(lot.site_id()) + id);
    for (const auto& site : lot.mine_site_ids()) AddIndexEntry(keys::LotsBySitePrefix(site) + id);
  }
  ReplaceIndexEntry(previous ? holder_entry(*previous) : std::string(), holder_entry(lot));
  ReplaceIndexEntry(previous ? transit_entry(*previous) : std::string(), transit_entry(lot));
  ReplaceIndexEntry(previous ? status_entry(*previous) : std::string(), status_entry(lot));
  Put(Column::kState, keys::Lot(id), lot.SerializeAsString());
}

Result<std::optional<v1::LotEvents>> StateView::GetLotEvents(std::string_view lot_id) const {
  return GetRecord<v1::LotEvents>(keys::LotEvents(lot_id));
}

Result<bool> StateView::AppendLotEvent(std::string_view lot_id, bool first,
                                       const v1::CustodyEvent& event) {
  MT_ASSERT(!lot_id.empty());
  std::string key = keys::LotEvents(lot_id);
  std::string bytes;
  if (!first) {
    auto stored = Get(Column::kState, key);
    if (!stored) return tl::unexpected(stored.error());
    if (!stored->has_value()) return false;
    bytes = std::move(**stored);
  }
  v1::LotEvents one;
  *one.add_events() = event;
  one.AppendToString(&bytes);
  Put(Column::kState, std::move(key), std::move(bytes));
  return true;
}

Result<std::optional<v1::Shipment>> StateView::GetShipment(std::string_view id) const {
  return GetRecord<v1::Shipment>(keys::Shipment(id));
}

void StateView::PutShipment(const std::optional<v1::Shipment>& previous, const v1::Shipment& s) {
  MT_ASSERT(!s.shipment_id().empty() && s.exporter_key().size() == 32);
  const std::string& id = s.shipment_id();
  if (previous) {
    MT_ASSERT(previous->shipment_id() == id && previous->exporter_key() == s.exporter_key());
  } else {
    AddIndexEntry(keys::ShipmentsByExporterPrefix(s.exporter_key()) + id);
  }
  ReplaceIndexEntry(
      previous ? keys::ShipmentsByStatusPrefix(previous->status()) + id : std::string(),
      keys::ShipmentsByStatusPrefix(s.status()) + id);
  Put(Column::kState, keys::Shipment(id), s.SerializeAsString());
}

Result<std::optional<v1::Incident>> StateView::GetIncident(std::string_view id) const {
  return GetRecord<v1::Incident>(keys::Incident(id));
}

namespace {
bool BlocksExports(const v1::Incident& i) {
  return i.level() == 1 && (i.status() == v1::INCIDENT_STATUS_OPEN ||
                            i.status() == v1::INCIDENT_STATUS_UNDER_MITIGATION);
}
}  // namespace

Result<std::vector<std::string>> StateView::GetOpenLevelOneIncidents(
    v1::IncidentSubjectKind kind, std::string_view subject_id) const {
  auto raw = Get(Column::kState, keys::OpenLevelOneIncidentIds(kind, subject_id));
  if (!raw) return tl::unexpected(raw.error());
  std::vector<std::string> ids;
  if (!raw->has_value()) return ids;
  // Ids joined by ',' (incident ids are "INC-" and digits).
  std::string_view rest = **raw;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    ids.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return ids;
}

Result<void> StateView::PutIncident(const std::optional<v1::Incident>& previous,
                                    const v1::Incident& i) {
  MT_ASSERT(!i.incident_id().empty());
  MT_ASSERT(i.incident_id().find(',') == std::string::npos);
  const std::string& id = i.incident_id();
  const bool blocked_before = previous && BlocksExports(*previous);
  if (previous) {
    MT_ASSERT(previous->incident_id() == id && previous->subject_kind() == i.subject_kind() &&
              previous->subject_id() == i.subject_id());
  } else {
    AddIndexEntry(keys::IncidentsBySubjectPrefix(i.subject_kind(), i.subject_id()) + id);
  }
  ReplaceIndexEntry(
      previous ? keys::IncidentsByStatusPrefix(previous->status()) + id : std::string(),
      keys::IncidentsByStatusPrefix(i.status()) + id);
  const std::string blocking =
      keys::OpenLevelOneIncidentsPrefix(i.subject_kind(), i.subject_id()) + id;
  ReplaceIndexEntry(blocked_before ? blocking : std::string(),
                    BlocksExports(i) ? blocking : std::string());
  if (blocked_before != BlocksExports(i)) {
    auto open = GetOpenLevelOneIncidents(i.subject_kind(), i.subject_id());
    if (!open) return tl::unexpected(open.error());
    std::set<std::string> ids(open->begin(), open->end());
    if (BlocksExports(i)) {
      ids.insert(id);
    } else {
      ids.erase(id);
    }
    std::string key = keys::OpenLevelOneIncidentIds(i.subject_kind(), i.subject_id());
    if (ids.empty()) {
      Delete(Column::kState, std::move(key));
    } else {
      std::string joined;
      for (const auto& x : ids) joined += (joined.empty() ? "" : ",") + x;
      Put(Column::kState, std::move(key), std::move(joined));
    }
  }
  Put(Column::kState, keys::Incident(id), i.SerializeAsString());
  if (previous) return {};
  auto count = [](auto& subject) { subject.set_incident_count(subject.incident_count() + 1); };
  switch (i.subject_kind()) {
    case v1::INCIDENT_SUBJECT_SITE:
      return ChangeRecord<v1::MineSite>(keys::Site(i.subject_id()), count);
    case v1::INCIDENT_SUBJECT_LOT:
      return ChangeRecord<v1::Lot>(keys::Lot(i.subject_id()), count);
    case v1::INCIDENT_SUBJECT_MEMBER: {
      auto key = FromHex(i.subject_id());
      MT_ASSERT(key.has_value());  // execution checked the subject
      return ChangeRecord<v1::Member>(keys::Member(std::string(key->begin(), key->end())), count);
    }
    default:
      return {};
  }
}

Result<std::optional<v1::Flag>> StateView::GetFlag(std::string_view id) const {
  return GetRecord<v1::Flag>(keys::Flag(id));
}

Result<void> StateView::PutFlag(const std::optional<v1::Flag>& previous, const v1::Flag& f) {
  MT_ASSERT(!f.flag_id().empty() && !f.kind().empty());
  const std::string& id = f.flag_id();
  Put(Column::kState, keys::Flag(id), f.SerializeAsString());
  if (previous) {
    MT_ASSERT(previous->flag_id() == id && previous->kind() == f.kind() &&
              previous->lot_id() == f.lot_id() && previous->site_id() == f.site_id() &&
              previous->member_key() == f.member_key());
    return {};
  }
  AddIndexEntry(keys::FlagsByKindPrefix(f.kind()) + id);
  if (!f.lot_id().empty()) AddIndexEntry(keys::FlagsByLotPrefix(f.lot_id()) + id);
  if (!f.site_id().empty()) AddIndexEntry(keys::FlagsBySitePrefix(f.site_id()) + id);
  if (!f.member_key().empty()) AddIndexEntry(keys::FlagsByMemberPrefix(f.member_key()) + id);
  auto count = [](auto& subject) { subject.set_flag_count(subject.flag_count() + 1); };
  if (!f.lot_id().empty()) MT_TRY(ChangeRecord<v1::Lot>(keys::Lot(f.lot_id()), count));
  if (!f.site_id().empty()) MT_TRY(ChangeRecord<v1::MineSite>(keys::Site(f.site_id()), count));
  return {};
}

Result<std::optional<v1::Inspection>> StateView::GetInspection(std::string_view site,
                                                               uint32_t sequence) const {
  return GetRecord<v1::Inspection>(keys::Inspection(site, sequence));
}

void StateView::PutInspection(const v1::Inspection& i) {
  MT_ASSERT(!i.site_id().empty() && i.sequence() > 0);
  Put(Column::kState, keys::Inspection(i.site_id(), i.sequence()), i.SerializeAsString());
}

Result<v1::MassBalance> StateView::GetMassBalance(std::string_view member_key) const {
  auto b = GetRecord<v1::MassBalance>(keys::MassBalance(member_key));
  if (!b) return tl::unexpected(b.error());
  if (b->has_value()) return **b;
  v1::MassBalance zero;
  zero.set_member_key(std::string(member_key));
  return zero;
}

void StateView::PutMassBalance(const v1::MassBalance& b) {
  MT_ASSERT(b.member_key().size() == 32);
  Put(Column::kState, keys::MassBalance(b.member_key()), b.SerializeAsString());
}

Result<uint64_t> StateView::NextSequence(std::string_view name) {
  std::string key = keys::Sequence(name);
  auto raw = Get(Column::kState, key);
  if (!raw) return tl::unexpected(raw.error());
  uint64_t next = raw->has_value() ? ReadBigEndian64(**raw) + 1 : 1;
  Put(Column::kState, key, keys::Be64(next));
  return next;
}

void StateView::MergeIntoParent() {
  MT_ASSERT(parent_ != nullptr);
  // Nodes move over whole: no key or value is copied.
  while (!writes_.empty()) {
    auto node = writes_.extract(writes_.begin());
    auto placed = parent_->writes_.insert(std::move(node));
    if (placed.inserted) continue;
    if (placed.position->first.first == Column::kIndex) {
      OverlayIndexWrite(parent_->writes_, placed.position, std::move(placed.node.mapped()));
    } else {
      placed.position->second = std::move(placed.node.mapped());
    }
  }
}

std::vector<StoreWrite> StateView::TakeWrites() {
  std::vector<StoreWrite> out;
  out.reserve(writes_.size());
  for (auto& [k, v] : writes_) out.push_back(StoreWrite{k.first, k.second, std::move(v)});
  writes_.clear();
  // The commit batch is sorted by the ledger (keys in order are cheaper for the store).
  return out;
}

}  // namespace minetrace::ledger
