// StateView is the layered view of ledger state that execution works on: a block's changes
// sit in one layer over the committed Store, each transaction's in a layer over the block's,
// so a failed transaction is discarded whole and a successful one merges into its block.
// The typed accessors keep secondary indexes in step with the records they index.
// Thread-safety: one thread at a time; the Store underneath may be read concurrently.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/ledger/store.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::ledger {

// Storage keys: typed prefixes, one meaning each (docs/OPERATIONS.md lists them).
namespace keys {
std::string Member(std::string_view member_key);
std::string Site(std::string_view site_id);
std::string Tag(std::string_view tag_id);
std::string Lot(std::string_view lot_id);
// The lot's first custody events: "l/<lot>\0", next to the lot, so scans of "l/" skip it.
std::string LotEvents(std::string_view lot_id);
std::string SiteMonthVolume(std::string_view site_id, int64_t block_time_ms);
// Index keys. The lot id comes last so a prefix scan lists lots in id order.
std::string LotsByHolderPrefix(std::string_view holder_key);
std::string LotsBySitePrefix(std::string_view site_id);
std::string LotsByStatusPrefix(v1::LotStatus status);
std::string AllLotsPrefix();
std::string SitesByCountryPrefix(std::string_view country);
std::string AllSitesPrefix();
// Lots dispatched to a member and not yet received.
std::string LotsInTransitToPrefix(std::string_view receiver_key);
std::string Inspection(std::string_view site_id, uint32_t sequence);
std::string InspectionsPrefix(std::string_view site_id);
std::string Shipment(std::string_view shipment_id);
std::string AllShipmentsPrefix();
std::string ShipmentsByExporterPrefix(std::string_view exporter_key);
std::string ShipmentsByStatusPrefix(v1::ShipmentStatus status);
// State key: certificate number -> shipment id, so a number is issued once.
std::string CertificateNumber(std::string_view number);
std::string Incident(std::string_view incident_id);
std::string AllIncidentsPrefix();
std::string IncidentsBySubjectPrefix(v1::IncidentSubjectKind kind, std::string_view subject_id);
// Present while the incident is level 1 and open or under mitigation: what blocks exports.
std::string OpenLevelOneIncidentsPrefix(v1::IncidentSubjectKind kind, std::string_view subject_id);
std::string IncidentsByStatusPrefix(v1::IncidentStatus status);
// State key: the ids of the open level-1 incidents of one subject, so that execution (which
// cannot scan) checks a subject with one read. Absent when there are none.
std::string OpenLevelOneIncidentIds(v1::IncidentSubjectKind kind, std::string_view subject_id);
std::string Flag(std::string_view flag_id);
std::string AllFlagsPrefix();
std::string FlagsByKindPrefix(std::string_view kind);
std::string FlagsByLotPrefix(std::string_view lot_id);
std::string FlagsBySitePrefix(std::string_view site_id);
std::string FlagsByMemberPrefix(std::string_view member_key);
std::string MassBalance(std::string_view member_key);
// State key: a counter (be64) that numbers incidents and flags.
std::string Sequence(std::string_view name);
std::string Be64(uint64_t v);
}  // namespace keys

// Committed state records (Column::kState) that execution and admission read again and again
// (members, sites, the lots of custody chains), kept in memory: each such read otherwise
// searches RocksDB's memtable skiplist, which cost a node a sixth of its CPU under load
// (docs/PERFORMANCE.md).
// Write-through: the ledger applies each block's writes once they are durable, so an entry
// always holds the committed value (nullopt: committed as absent). Two generations of at most
// `max_entries` each: when the newer is full it becomes the older and the older is dropped,
// so what was used since the last turn stays. One thread uses it: the ledger's executor.
class CommittedStateCache {
 public:
  explicit CommittedStateCache(size_t max_entries) : max_entries_(max_entries) {}
  CommittedStateCache(const CommittedStateCache&) = delete;
  CommittedStateCache& operator=(const CommittedStateCache&) = delete;

  // The cached committed value of a state key, or nullptr when it is not cached. A hit in the
  // older generation moves the entry to the newer one.
  const std::optional<std::string>* Find(const std::string& key);
  // What a store read of a state key returned.
  void Remember(std::string key, std::optional<std::string> value);
  // A committed block's writes (taken: they are done with): cached keys take their new
  // values. New keys are not added: a block that allocates 10,000 tags would otherwise turn
  // the cache over for records that may never be read.
  void Apply(std::vector<StoreWrite>&& writes);
  size_t size() const { return newer_.size() + older_.size(); }

 private:
  using Entries = std::unordered_map<std::string, std::optional<std::string>>;
  std::optional<std::string>* Put(std::string key, std::optional<std::string> value);

  size_t max_entries_;
  Entries newer_;
  Entries older_;
};

// A state record from its stored bytes; kDataLoss when they do not parse.
template <class Msg>
Result<Msg> ParseStateRecord(const std::string& bytes) {
  Msg msg;
  if (!msg.ParseFromString(bytes)) {
    return MakeError(ErrorCode::kDataLoss, "stored record under a corrupt key: cannot parse");
  }
  return msg;
}

class StateView {
 public:
  // Reads fall through to `parent` when given, else to `committed` when given and then to
  // `store`. All must outlive this view; a view with `committed` is used on the thread that
  // owns that cache.
  explicit StateView(const Store& store, CommittedStateCache* committed = nullptr)
      : store_(store), committed_(committed) {}
  explicit StateView(StateView& parent) : store_(parent.store_), parent_(&parent) {}
  StateView(const StateView&) = delete;
  StateView& operator=(const StateView&) = delete;

  Result<std::optional<std::string>> Get(Column column, const std::string& key) const;
  void Put(Column column, std::string key, std::string value);
  void Delete(Column column, std::string key);

  Result<std::optional<v1::Member>> GetMember(std::string_view key) const;
  Result<std::optional<v1::MineSite>> GetSite(std::string_view site_id) const;
  Result<std::optional<v1::Tag>> GetTag(std::string_view tag_id) const;
  Result<std::optional<v1::Lot>> GetLot(std::string_view lot_id) const;
  void PutMember(const v1::Member& member);
  void PutSite(const v1::MineSite& site);
  void PutTag(const v1::Tag& tag);
  // `previous` is the record as it was before (nullopt for a new lot): its index entries are
  // replaced by the new record's.
  void PutLot(const std::optional<v1::Lot>& previous, const v1::Lot& lot);
  Result<std::optional<v1::LotEvents>> GetLotEvents(std::string_view lot_id) const;
  // Adds `event` at the end of the lot's stored events, which must hold its whole history so
  // far: none for its first event (`first`). Appends the event's encoding to the stored bytes
  // (a repeated field's encodings concatenate) rather than parsing them. False, and nothing
  // written, when a later event finds no record (lost: a reader takes the rest from txs).
  Result<bool> AppendLotEvent(std::string_view lot_id, bool first, const v1::CustodyEvent& event);

  Result<std::optional<v1::Shipment>> GetShipment(std::string_view shipment_id) const;
  void PutShipment(const std::optional<v1::Shipment>& previous, const v1::Shipment& shipment);
  Result<std::optional<v1::Incident>> GetIncident(std::string_view incident_id) const;
  // Also keeps OpenLevelOneIncidentIds of the subject right and, for a new incident, counts it
  // on the subject's record (a site, lot or member; a tag's incidents are found by the index
  // only): each needs a read.
  Result<void> PutIncident(const std::optional<v1::Incident>& previous,
                           const v1::Incident& incident);
  // The open (or under mitigation) level-1 incidents of a subject, in id order.
  Result<std::vector<std::string>> GetOpenLevelOneIncidents(v1::IncidentSubjectKind kind,
                                                            std::string_view subject_id) const;
  Result<std::optional<v1::Flag>> GetFlag(std::string_view flag_id) const;
  // Flags are written once (and again only to set incident_id; indexes do not change). A new
  // flag is counted on the records of the lot and the site it names, which needs a read each.
  Result<void> PutFlag(const std::optional<v1::Flag>& previous, const v1::Flag& flag);
  Result<std::optional<v1::Inspection>> GetInspection(std::string_view site_id,
                                                      uint32_t sequence) const;
  void PutInspection(const v1::Inspection& inspection);
  // A member's mass balance (all zero for one that never moved a lot).
  Result<v1::MassBalance> GetMassBalance(std::string_view member_key) const;
  void PutMassBalance(const v1::MassBalance& balance);
  // The next number of counter `name` (1 for the first call), e.g. "incident", "flag".
  Result<uint64_t> NextSequence(std::string_view name);

  // Moves this layer's writes into the parent layer. Only for a view with a parent.
  void MergeIntoParent();
  // The writes of this layer, for a commit batch, in no particular order (keys are unique,
  // so the store's contents do not depend on it).
  std::vector<StoreWrite> TakeWrites();
  void Clear() { writes_.clear(); }

 private:
  using Key = std::pair<Column, std::string>;
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<std::string>()(k.second) ^
             (static_cast<size_t>(k.first) * 0x9e3779b97f4a7c15ull);
    }
  };
  // Hashed, not ordered: a layer is only read and written per key, and a node's pending
  // layer holds the writes of thousands of txs.
  using Writes = std::unordered_map<Key, std::optional<std::string>, KeyHash>;

  template <class Msg>
  Result<std::optional<Msg>> GetRecord(const std::string& key) const;
  // Changes the record at `key` by `change` if there is one (no index names what it changes).
  template <class Msg, class Change>
  Result<void> ChangeRecord(const std::string& key, Change change);
  // Index entries are written only when they change: added when absent, removed when
  // present, and an addition and a removal of one entry cancel out within a layer and when
  // a layer merges into its parent. So an entry reaches the store as one put and, if it goes,
  // one removal after it, which the store writes as a SingleDelete (Store::Commit).
  // `entry` (an index write) over `held`, the write a layer holds for the same key.
  static void OverlayIndexWrite(Writes& writes, Writes::iterator held,
                                std::optional<std::string>&& entry);
  void PlaceIndexWrite(Key key, std::optional<std::string> entry);
  void AddIndexEntry(std::string key);
  void RemoveIndexEntry(std::string key);
  // Moves an entry from `before` to `after` ("": none), writing nothing when they are equal.
  void ReplaceIndexEntry(const std::string& before, const std::string& after);
  // Below the bottom layer: the cache of committed state, then the store.
  Result<std::optional<std::string>> ReadCommitted(Column column, const std::string& key) const;

  const Store& store_;
  StateView* parent_ = nullptr;
  CommittedStateCache* committed_ = nullptr;
  Writes writes_;
};

}  // namespace minetrace::ledger
