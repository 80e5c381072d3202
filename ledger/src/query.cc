// The chain-of-custody queries of the Ledger: provenance, incidents, flags, shipments,
// inspections, site production and holdings. Every query reads through an index or a point
// key; only the unfiltered "all" listings walk a whole record range, one bounded page at a
// time. Results are ordered by keys, never by hash-map iteration, so every node answers alike.
#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <set>

#include "minetrace/base/assert.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/rules.h"
#include "minetrace/ledger/proof/custody_event.h"

namespace minetrace::ledger {
namespace {

// A lot's events, all lots' events together, and the flags or incidents of one subject, that
// a provenance lists: one request's work and memory stay bounded however the graph was built.
constexpr size_t kMaxEventsPerLot = 10'000;
constexpr size_t kMaxProvenanceEvents = 100'000;
constexpr size_t kMaxRecordsPerSubject = 10'000;

std::string MonthText(int64_t months) { return std::to_string(months) + " months"; }


// Values seen once each, in the order first seen.
class OrderedSet {
 public:
  void Add(const std::string& v) {
    if (!v.empty() && seen_.insert(v).second) order_.push_back(v);
  }
  const std::vector<std::string>& items() const { return order_; }

 private:
  std::set<std::string> seen_;
  std::vector<std::string> order_;
};

// The state records of `ids` (keyed by `key_of`), in that order, nullopt where absent, read
// in one batch (Store::MultiGet): cheaper than a point read each, the more so the more table
// files a read has to consult.
template <class Msg>
Result<std::vector<std::optional<Msg>>> ReadRecords(const Store& store,
                                                    const std::vector<std::string>& ids,
                                                    std::string (*key_of)(std::string_view)) {
  std::vector<std::string> keys;
  keys.reserve(ids.size());
  for (const auto& id : ids) keys.push_back(key_of(id));
  auto raw = store.MultiGet(Column::kState, keys);
  if (!raw) return tl::unexpected(raw.error());
  std::vector<std::optional<Msg>> out(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!(*raw)[i].has_value()) continue;
    auto msg = ParseStateRecord<Msg>(*(*raw)[i]);
    if (!msg) return tl::unexpected(msg.error());
    out[i] = std::move(*msg);
  }
  return out;
}

}  // namespace

template <class T>
Result<Page<T>> Ledger::ScanFilteredPage(
    Column column, const std::vector<std::string>& prefixes, std::string_view page_token,
    size_t page_size, const std::function<Result<std::optional<T>>(const std::string& id)>& load,
    const std::function<bool(const T&)>& keep) const {
  MT_ASSERT(page_size > 0 && !prefixes.empty());
  // The token is the hex of the last id examined: the next page starts strictly after it.
  std::string after;
  if (!page_token.empty()) {
    auto last = FromHex(page_token);
    if (!last) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "page_token is not valid: pass the next_page_token of the previous page");
    }
    after = ToString(*last);
  }
  const size_t bound = page_scan_bound_;
  MT_ASSERT(bound > 0);
  Page<T> page;
  std::string last_examined;
  bool more = false;
  if (prefixes.size() == 1) {
    // One prefix: records are read as the scan goes, and it stops as soon as the page is
    // full and one more match shows that another page follows.
    const std::string& prefix = prefixes.front();
    std::optional<Error> failed;
    size_t examined = 0;
    MT_TRY(store_->Scan(column, prefix, after.empty() ? std::string() : prefix + after, bound + 1,
                        [&](std::string_view key, std::string_view) {
                          if (examined == bound) {
                            more = true;  // bound hit: the next page goes on from here
                            return false;
                          }
                          std::string id(key.substr(prefix.size()));
                          auto record = load(id);
                          if (!record) {
                            failed = record.error();
                            return false;
                          }
                          if (record->has_value() && keep(**record)) {
                            if (page.items.size() == page_size) {
                              more = true;
                              return false;
                            }
                            page.items.push_back(std::move(**record));
                          }
                          ++examined;
                          last_examined = std::move(id);
                          return true;
                        }));
    if (failed) return tl::unexpected(*failed);
    if (more) page.next_page_token = ToHex(AsBytes(last_examined));
    return page;
  }

  // Several prefixes: the ids after the token under each, merged in id order. A prefix that
  // gave the full bound may hold more: ids beyond the smallest such last id (the horizon) wait
  // for the next page, so no id is skipped.
  std::set<std::string> ids;
  std::optional<std::string> horizon;
  for (const auto& prefix : prefixes) {
    std::vector<std::string> got;
    MT_TRY(store_->Scan(column, prefix, after.empty() ? std::string() : prefix + after, bound,
                        [&](std::string_view key, std::string_view) {
                          got.emplace_back(key.substr(prefix.size()));
                          return true;
                        }));
    if (got.size() == bound && (!horizon || got.back() < *horizon)) {
      horizon = got.back();
    }
    ids.insert(std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
  }
  if (horizon) ids.erase(ids.upper_bound(*horizon), ids.end());
  for (const auto& id : ids) {
    auto record = load(id);
    if (!record) return tl::unexpected(record.error());
    if (record->has_value() && keep(**record)) {
      if (page.items.size() == page_size) {
        more = true;  // a further match starts the next page
        break;
      }
      page.items.push_back(std::move(**record));
    }
    last_examined = id;
  }
  if (!more && horizon) more = true;  // examined up to the horizon; the rest is unread
  if (more) {
    MT_ASSERT(!last_examined.empty());
    page.next_page_token = ToHex(AsBytes(last_examined));
  }
  return page;
}

// ---- provenance ----

Result<v1::Provenance> Ledger::GetProvenance(std::string_view lot_id, std::string_view shipment_id,
                                             size_t max_lots) const {
  if (lot_id.empty() == shipment_id.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "give exactly one of lot_id and shipment_id");
  }
  MT_ASSERT(max_lots > 0 && max_lots <= kMaxProvenanceLots);
  StateView state(*store_);
  v1::Provenance out;
  std::vector<std::string> start;
  OrderedSet members;
  if (!shipment_id.empty()) {
    auto shipment = state.GetShipment(shipment_id);
    if (!shipment) return tl::unexpected(shipment.error());
    if (!shipment->has_value()) {
      return MakeError(ErrorCode::kNotFound, "no shipment '" + std::string(shipment_id) + "'");
    }
    const v1::Shipment& s = **shipment;
    start.assign(s.lot_ids().begin(), s.lot_ids().end());
    members.Add(s.exporter_key());
    members.Add(s.reviewed_by());
    members.Add(s.certificate().certifier_key());
    members.Add(s.smelter_key());
    *out.mutable_shipment() = s;
  } else {
    start.emplace_back(lot_id);
  }

  // Breadth first from the requested lots, each lot once. At most max_lots are ever queued,
  // so a wide graph (merges of up to 1000 inputs) cannot grow the queue beyond the bound.
  std::deque<std::string> queue;
  std::set<std::string> queued;
  auto enqueue = [&](const std::string& id) {
    if (queued.count(id) > 0) return;
    if (queued.size() == max_lots) {
      out.set_truncated(true);
      return;
    }
    queued.insert(id);
    queue.push_back(id);
  };
  for (const auto& id : start) enqueue(id);
  OrderedSet sites;
  size_t events_listed = 0;
  // The short scans of flags and incidents (a tag's, and those of a lot, site or member that
  // counts some) share one iterator per column and kind of prefix.
  Store::Iterators scans;
  // First the graph: each lot with its stored events (v1::LotEvents, its whole history but
  // for lots of more than kMaxStoredEventsPerLot events). The lots are read a generation at a
  // time (all lots queued so far, in queue order) in one batch: a merge's inputs are read
  // together. lot_tx_leaves[n]: the leaves of lot n's events that are not stored (mostly
  // none), read from their txs below.
  std::vector<std::vector<uint64_t>> lot_tx_leaves;
  while (!queue.empty()) {
    std::vector<std::string> generation(std::make_move_iterator(queue.begin()),
                                        std::make_move_iterator(queue.end()));
    queue.clear();
    auto lots = ReadRecords<v1::Lot>(*store_, generation, keys::Lot);
    if (!lots) return tl::unexpected(lots.error());
    auto stored = ReadRecords<v1::LotEvents>(*store_, generation, keys::LotEvents);
    if (!stored) return tl::unexpected(stored.error());
    for (size_t g = 0; g < generation.size(); ++g) {
      const std::string& id = generation[g];
      auto& lot = (*lots)[g];
      if (!lot.has_value()) {
        if (id == lot_id) return MakeError(ErrorCode::kNotFound, "no lot '" + id + "'");
        // A shipment or a processed lot names only lots the ledger made.
        return MakeError(ErrorCode::kDataLoss,
                         "lot '" + id + "' is named upstream but not stored");
      }
      for (const auto& parent : lot->parent_lot_ids()) enqueue(parent);
      const size_t allowed = std::min(kMaxEventsPerLot, kMaxProvenanceEvents - events_listed);
      if (static_cast<size_t>(lot->history_leaves_size()) > allowed) out.set_truncated(true);
      std::vector<uint64_t> leaves = FirstHistoryLeaves(*lot, allowed);
      events_listed += leaves.size();
      v1::ProvenanceLot* entry = out.add_lots();
      if ((*stored)[g].has_value()) {
        auto* events = entry->mutable_events();
        events->Swap((*stored)[g]->mutable_events());
        const int listed = static_cast<int>(leaves.size());
        if (events->size() > listed) events->DeleteSubrange(listed, events->size() - listed);
        leaves.erase(leaves.begin(), leaves.begin() + events->size());
      }
      lot_tx_leaves.push_back(std::move(leaves));
      *entry->mutable_lot() = std::move(*lot);
    }
  }
  // Then every tx of an event not stored, each once (a merge is the last event of each of its
  // inputs and the first of its output; a dispatch or receipt of several lots is in each of
  // their histories), in leaf order and in one batch: the txs of one block share data blocks.
  std::vector<uint64_t> all_leaves;
  for (const auto& leaves : lot_tx_leaves) {
    all_leaves.insert(all_leaves.end(), leaves.begin(), leaves.end());
  }
  std::sort(all_leaves.begin(), all_leaves.end());
  all_leaves.erase(std::unique(all_leaves.begin(), all_leaves.end()), all_leaves.end());
  auto records = GetTxsAtLeaves(all_leaves);
  if (!records) return tl::unexpected(records.error());
  std::vector<v1::TxBody> bodies(records->size());
  for (size_t i = 0; i < records->size(); ++i) {
    if (!bodies[i].ParseFromString((*records)[i].tx.body())) {
      return MakeError(ErrorCode::kDataLoss, "stored tx at leaf " + std::to_string(all_leaves[i]) +
                                                 " has a body that does not parse");
    }
  }
  // The events, and the members and sites in the order the lots and their events name them.
  for (size_t n = 0; n < lot_tx_leaves.size(); ++n) {
    v1::ProvenanceLot* entry = out.mutable_lots(static_cast<int>(n));
    const v1::Lot& l = entry->lot();
    members.Add(l.recorded_by());
    members.Add(l.producer_key());
    members.Add(l.holder_key());
    members.Add(l.processed_by());
    members.Add(l.dispatched_by());
    members.Add(l.dispatched_to());
    sites.Add(l.site_id());
    for (const auto& s : l.mine_site_ids()) sites.Add(s);
    for (const v1::CustodyEvent& e : entry->events()) {  // the stored ones
      members.Add(e.actor());
      members.Add(e.counterparty());
    }
    for (uint64_t leaf : lot_tx_leaves[n]) {
      const size_t i = static_cast<size_t>(
          std::lower_bound(all_leaves.begin(), all_leaves.end(), leaf) - all_leaves.begin());
      const TxRecord& rec = (*records)[i];
      v1::CustodyEvent* e = entry->add_events();
      *e = proof::CustodyEventOf(bodies[i], rec.tx.signer(), rec.receipt, rec.receipt_hash,
                                 l.lot_id());
      members.Add(e->actor());
      members.Add(e->counterparty());
    }
  }

  auto site_records = ReadRecords<v1::MineSite>(*store_, sites.items(), keys::Site);
  if (!site_records) return tl::unexpected(site_records.error());
  const int64_t now_ms = head().block_time_ms();
  for (auto& site : *site_records) {
    if (!site.has_value()) continue;
    site->set_status(EffectiveSiteStatus(*site, now_ms));  // as GetMineSite
    *out.add_sites() = std::move(*site);
  }
  auto member_records = ReadRecords<v1::Member>(*store_, members.items(), keys::Member);
  if (!member_records) return tl::unexpected(member_records.error());
  for (auto& m : *member_records) {
    if (m.has_value()) *out.add_members() = std::move(*m);
  }

  // Flags and incidents, each once and in id order. A lot, site or member record counts the
  // flags and incidents that name it: its index is read only when there are some, which
  // spares most subjects a scan (each probes the filters of every table that could hold it).
  // The ids an index prefix lists, at most kMaxRecordsPerSubject (beyond: records_truncated).
  auto ids_under = [&](const std::string& prefix) -> Result<std::vector<std::string>> {
    std::vector<std::string> ids;
    MT_TRY(store_->Scan(
        Column::kIndex, prefix, "", kMaxRecordsPerSubject + 1,
        [&](std::string_view k, std::string_view) {
          ids.emplace_back(k.substr(prefix.size()));
          return true;
        },
        &scans));
    if (ids.size() > kMaxRecordsPerSubject) {
      out.set_records_truncated(true);
      ids.resize(kMaxRecordsPerSubject);
    }
    return ids;
  };
  std::map<std::string, v1::Flag> flags;
  auto collect_flags = [&](const std::string& prefix,
                           const std::function<bool(const v1::Flag&)>& keep) -> Result<void> {
    auto ids = ids_under(prefix);
    if (!ids) return tl::unexpected(ids.error());
    for (const auto& fid : *ids) {
      if (flags.count(fid) > 0) continue;
      auto f = state.GetFlag(fid);
      if (!f) return tl::unexpected(f.error());
      if (f->has_value() && keep(**f)) flags.emplace(fid, std::move(**f));
    }
    return {};
  };
  auto any = [](const v1::Flag&) { return true; };
  std::map<std::string, v1::Incident> incidents;
  auto collect_incidents = [&](v1::IncidentSubjectKind kind,
                               const std::string& subject) -> Result<void> {
    if (subject.empty()) return {};
    auto ids = ids_under(keys::IncidentsBySubjectPrefix(kind, subject));
    if (!ids) return tl::unexpected(ids.error());
    for (const auto& iid : *ids) {
      if (incidents.count(iid) > 0) continue;
      auto i = state.GetIncident(iid);
      if (!i) return tl::unexpected(i.error());
      if (i->has_value()) incidents.emplace(iid, std::move(**i));
    }
    return {};
  };
  for (const auto& entry : out.lots()) {
    const v1::Lot& lot = entry.lot();
    if (lot.flag_count() > 0) MT_TRY(collect_flags(keys::FlagsByLotPrefix(lot.lot_id()), any));
    if (lot.incident_count() > 0) {
      MT_TRY(collect_incidents(v1::INCIDENT_SUBJECT_LOT, lot.lot_id()));
    }
    MT_TRY(collect_incidents(v1::INCIDENT_SUBJECT_TAG, lot.tag_id()));
  }
  for (const auto& site : out.sites()) {
    if (site.flag_count() > 0) MT_TRY(collect_flags(keys::FlagsBySitePrefix(site.site_id()), any));
    if (site.incident_count() > 0) {
      MT_TRY(collect_incidents(v1::INCIDENT_SUBJECT_SITE, site.site_id()));
    }
  }
  // Flags on the lots' tags: the misuse of a mine tag (tag_off_site, tag_off_agent) is filed
  // under the tag's own site, which is the site of the lot that tag later marks, so the site
  // flags above hold it. The misuse of a processor tag names no site and is filed under the
  // member who tried the tag; without an index by tag it is not listed here. (Reading every
  // flag of each recording member instead, as this once did, costs up to
  // kMaxRecordsPerSubject reads per member, growing with the ledger, and finds nothing the
  // site flags miss: for a mine tag they are the same flags, and a processor tag's misuse
  // names the member who tried it, never the tag's owner who records with it.)
  if (out.has_shipment()) {
    // A shipment's own flags (a smelter's receipt mismatch) name no lot: find them through
    // the members the shipment names.
    const v1::Shipment& s = out.shipment();
    auto of_shipment = [&](const v1::Flag& f) { return f.shipment_id() == s.shipment_id(); };
    for (const std::string& key : {s.exporter_key(), s.smelter_key()}) {
      if (!key.empty()) MT_TRY(collect_flags(keys::FlagsByMemberPrefix(key), of_shipment));
    }
  }
  for (const auto& m : out.members()) {
    if (m.incident_count() > 0) {
      MT_TRY(collect_incidents(v1::INCIDENT_SUBJECT_MEMBER, ToHex(AsBytes(m.key()))));
    }
  }
  for (auto& [id, f] : flags) *out.add_flags() = std::move(f);
  for (auto& [id, i] : incidents) *out.add_incidents() = std::move(i);
  return out;
}

// ---- incidents and flags ----

Result<std::optional<v1::Incident>> Ledger::GetIncident(std::string_view incident_id) const {
  return StateView(*store_).GetIncident(incident_id);
}

Result<Page<v1::Incident>> Ledger::ListIncidents(const IncidentFilter& filter,
                                                 std::string_view page_token,
                                                 size_t page_size) const {
  if (filter.subject_id.empty() != (filter.subject_kind == v1::INCIDENT_SUBJECT_UNSPECIFIED)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "subject_kind and subject_id go together: give both or neither");
  }
  // The most selective index that the filter allows; the rest is filtered record by record.
  Column column = Column::kIndex;
  std::vector<std::string> prefixes;
  if (!filter.subject_id.empty()) {
    prefixes = {keys::IncidentsBySubjectPrefix(filter.subject_kind, filter.subject_id)};
  } else if (filter.status != v1::INCIDENT_STATUS_UNSPECIFIED) {
    prefixes = {keys::IncidentsByStatusPrefix(filter.status)};
  } else if (filter.open_only) {
    // The incidents that count as open, merged in id order.
    prefixes = {keys::IncidentsByStatusPrefix(v1::INCIDENT_STATUS_OPEN),
                keys::IncidentsByStatusPrefix(v1::INCIDENT_STATUS_UNDER_MITIGATION)};
  } else {
    column = Column::kState;
    prefixes = {keys::AllIncidentsPrefix()};
  }
  StateView state(*store_);
  std::function<Result<std::optional<v1::Incident>>(const std::string&)> load =
      [&](const std::string& id) { return state.GetIncident(id); };
  std::function<bool(const v1::Incident&)> keep = [&](const v1::Incident& i) {
    if (filter.status != v1::INCIDENT_STATUS_UNSPECIFIED && i.status() != filter.status) {
      return false;
    }
    if (filter.level != 0 && i.level() != filter.level) return false;
    if (filter.category != v1::INCIDENT_CATEGORY_UNSPECIFIED && i.category() != filter.category) {
      return false;
    }
    if (filter.open_only && i.status() != v1::INCIDENT_STATUS_OPEN &&
        i.status() != v1::INCIDENT_STATUS_UNDER_MITIGATION) {
      return false;
    }
    return true;
  };
  return ScanFilteredPage<v1::Incident>(column, prefixes, page_token, page_size, load, keep);
}

Result<Page<v1::Flag>> Ledger::ListFlags(const FlagFilter& filter, std::string_view page_token,
                                         size_t page_size) const {
  Column column = Column::kIndex;
  std::string prefix;
  if (!filter.lot_id.empty()) {
    prefix = keys::FlagsByLotPrefix(filter.lot_id);
  } else if (!filter.site_id.empty()) {
    prefix = keys::FlagsBySitePrefix(filter.site_id);
  } else if (!filter.member_key.empty()) {
    prefix = keys::FlagsByMemberPrefix(filter.member_key);
  } else if (!filter.kind.empty()) {
    prefix = keys::FlagsByKindPrefix(filter.kind);
  } else {
    column = Column::kState;
    prefix = keys::AllFlagsPrefix();
  }
  StateView state(*store_);
  std::function<Result<std::optional<v1::Flag>>(const std::string&)> load =
      [&](const std::string& id) { return state.GetFlag(id); };
  std::function<bool(const v1::Flag&)> keep = [&](const v1::Flag& f) {
    return (filter.kind.empty() || f.kind() == filter.kind) &&
           (filter.lot_id.empty() || f.lot_id() == filter.lot_id) &&
           (filter.site_id.empty() || f.site_id() == filter.site_id) &&
           (filter.member_key.empty() || f.member_key() == filter.member_key);
  };
  return ScanFilteredPage<v1::Flag>(column, {prefix}, page_token, page_size, load, keep);
}

// ---- shipments and inspections ----

Result<std::optional<v1::Shipment>> Ledger::GetShipment(std::string_view shipment_id) const {
  return StateView(*store_).GetShipment(shipment_id);
}

Result<Page<v1::Shipment>> Ledger::ListShipments(const ShipmentFilter& filter,
                                                 std::string_view page_token,
                                                 size_t page_size) const {
  Column column = Column::kIndex;
  std::string prefix;
  if (!filter.exporter_key.empty()) {
    prefix = keys::ShipmentsByExporterPrefix(filter.exporter_key);
  } else if (filter.status != v1::SHIPMENT_STATUS_UNSPECIFIED) {
    prefix = keys::ShipmentsByStatusPrefix(filter.status);
  } else {
    column = Column::kState;
    prefix = keys::AllShipmentsPrefix();
  }
  StateView state(*store_);
  std::function<Result<std::optional<v1::Shipment>>(const std::string&)> load =
      [&](const std::string& id) { return state.GetShipment(id); };
  std::function<bool(const v1::Shipment&)> keep = [&](const v1::Shipment& s) {
    return (filter.exporter_key.empty() || s.exporter_key() == filter.exporter_key) &&
           (filter.status == v1::SHIPMENT_STATUS_UNSPECIFIED || s.status() == filter.status);
  };
  return ScanFilteredPage<v1::Shipment>(column, {prefix}, page_token, page_size, load, keep);
}

Result<std::optional<std::vector<v1::Inspection>>> Ledger::ListInspections(
    std::string_view site_id) const {
  StateView state(*store_);
  auto site = state.GetSite(site_id);
  if (!site) return tl::unexpected(site.error());
  if (!site->has_value()) return std::optional<std::vector<v1::Inspection>>();
  std::vector<v1::Inspection> out;
  // Sequences run 1..inspection_count: point reads, oldest first.
  for (uint32_t seq = 1; seq <= (*site)->inspection_count(); ++seq) {
    auto i = state.GetInspection(site_id, seq);
    if (!i) return tl::unexpected(i.error());
    if (!i->has_value()) {
      return MakeError(ErrorCode::kDataLoss, "inspection " + std::to_string(seq) + " of site '" +
                                                 std::string(site_id) + "' is missing");
    }
    out.push_back(std::move(**i));
  }
  return std::optional<std::vector<v1::Inspection>>(std::move(out));
}

// ---- production and holdings ----

Result<std::optional<v1::SiteProduction>> Ledger::GetSiteProduction(std::string_view site_id,
                                                                    int64_t from_ms,
                                                                    int64_t to_ms) const {
  if (from_ms < 0 || to_ms < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "from_ms and to_ms are Unix milliseconds (0 = default), not negative");
  }
  auto site = GetMineSite(site_id);
  if (!site) return tl::unexpected(site.error());
  if (!site->has_value()) return std::optional<v1::SiteProduction>();
  int64_t from = from_ms;
  if (from == 0) {
    auto registered = GetLedgerInfo((*site)->registered_height());
    if (!registered) return tl::unexpected(registered.error());
    if (registered->has_value()) from = (*registered)->block_time_ms();
  }
  int64_t to = to_ms != 0 ? to_ms : head().block_time_ms();
  if (to < from) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "to_ms " + std::to_string(to) + " is before from_ms " + std::to_string(from));
  }
  int64_t first = from / kProductionMonthMs;
  int64_t last = to / kProductionMonthMs;
  if (last - first + 1 > kMaxProductionMonths) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the range spans " + MonthText(last - first + 1) + "; ask for at most " +
                         MonthText(kMaxProductionMonths) + " (30-day months) at a time");
  }
  v1::SiteProduction out;
  uint64_t estimate_grams = (*site)->production_estimate_kg_per_month() * 1000;
  for (int64_t m = first; m <= last; ++m) {
    int64_t start_ms = m * kProductionMonthMs;
    auto raw = store_->Get(Column::kState, keys::SiteMonthVolume(site_id, start_ms));
    if (!raw) return tl::unexpected(raw.error());
    if (raw->has_value() && (*raw)->size() != 8) {
      return MakeError(ErrorCode::kDataLoss,
                       "a monthly volume of site '" + std::string(site_id) + "' is corrupt");
    }
    uint64_t grams = raw->has_value() ? ReadBigEndian64(**raw) : 0;
    v1::MonthProduction* month = out.add_months();
    month->set_month(static_cast<uint64_t>(m));
    month->set_start_ms(start_ms);
    month->set_tagged_grams(grams);
    month->set_estimate_grams(estimate_grams);
    // As the site_volume_above_estimate rule: an estimate of 0 means none was given.
    month->set_above_estimate(estimate_grams > 0 && grams > estimate_grams);
  }
  *out.mutable_site() = std::move(**site);
  return std::optional<v1::SiteProduction>(std::move(out));
}

Result<std::optional<v1::Holdings>> Ledger::GetHoldings(std::string_view member_key) const {
  StateView state(*store_);
  auto member = state.GetMember(member_key);
  if (!member) return tl::unexpected(member.error());
  if (!member->has_value()) return std::optional<v1::Holdings>();
  auto balance = state.GetMassBalance(member_key);
  if (!balance) return tl::unexpected(balance.error());
  v1::Holdings out;
  *out.mutable_member() = std::move(**member);
  *out.mutable_balance() = std::move(*balance);

  size_t examined = 0;
  // Visits the lots under `prefix`, at most kMaxHoldingsLots in all (then truncated).
  auto for_lots = [&](const std::string& prefix,
                      const std::function<void(const v1::Lot&)>& visit) -> Result<void> {
    std::vector<std::string> ids;
    MT_TRY(store_->Scan(Column::kIndex, prefix, "", kMaxHoldingsLots + 1,
                        [&](std::string_view k, std::string_view) {
                          if (examined == kMaxHoldingsLots) {
                            out.set_truncated(true);
                            return false;
                          }
                          ++examined;
                          ids.emplace_back(k.substr(prefix.size()));
                          return true;
                        }));
    for (const auto& id : ids) {
      auto lot = state.GetLot(id);
      if (!lot) return tl::unexpected(lot.error());
      if (lot->has_value()) visit(**lot);
    }
    return {};
  };
  MT_TRY(for_lots(keys::LotsByHolderPrefix(member_key), [&](const v1::Lot& l) {
    if (l.status() == v1::LOT_STATUS_HELD || l.status() == v1::LOT_STATUS_IN_SHIPMENT) {
      out.set_held_lots(out.held_lots() + 1);
      out.set_held_grams(out.held_grams() + l.weight_grams());
    }
  }));
  MT_TRY(for_lots(keys::LotsInTransitToPrefix(member_key), [&](const v1::Lot& l) {
    out.set_in_transit_to_lots(out.in_transit_to_lots() + 1);
    out.set_in_transit_to_grams(out.in_transit_to_grams() + l.dispatched_weight_grams());
  }));
  return std::optional<v1::Holdings>(std::move(out));
}

}  // namespace minetrace::ledger
