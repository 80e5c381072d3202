// The generated history of ledger/src/history_test.cc (issue 5 acceptance 2): a seeded
// generator of random actions by many actors, small models built from committed receipts, and
// the invariants checked after every block. history.cc runs blocks and reads the ledger,
// history_plan_*.cc plan the actions, history_check.cc replays receipts and checks.
// Thread-safety: a History is used by one thread; it owns its Ledger and data directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "minetrace/base/assert.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/rules.h"

namespace minetrace::ledger::history {

using Case = v1::TxBody::ActionCase;

constexpr int64_t kStartMs = 1'790'000'000'000;  // 2026-09
constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr char kChainId[] = "history-chain";
constexpr char kSuspendedActs[] = "a suspended member may not act";

// Every action of TxBody; the history must commit each at least once.
inline const std::vector<Case> kAllActions = {
    v1::TxBody::kRegisterMember,   v1::TxBody::kSuspendMember,   v1::TxBody::kReinstateMember,
    v1::TxBody::kRegisterMineSite, v1::TxBody::kAllocateTags,    v1::TxBody::kRecordMineLot,
    v1::TxBody::kDispatchLots,     v1::TxBody::kReceiveLots,     v1::TxBody::kCancelDispatch,
    v1::TxBody::kRecordInspection, v1::TxBody::kSetSiteStatus,   v1::TxBody::kReportTags,
    v1::TxBody::kWithdrawSiteTags, v1::TxBody::kRestoreSiteTags, v1::TxBody::kProcessLots,
    v1::TxBody::kFormShipment,     v1::TxBody::kReviewShipment,  v1::TxBody::kDispatchShipment,
    v1::TxBody::kReceiveShipment,  v1::TxBody::kCancelShipment,  v1::TxBody::kReportIncident,
    v1::TxBody::kUpdateIncident,   v1::TxBody::kSetAuditFlag,
};

inline std::string ActionName(Case c) {
  const auto* field = v1::TxBody::descriptor()->FindFieldByNumber(static_cast<int>(c));
  return field == nullptr ? std::string("none") : std::string(field->name());
}

inline std::string Hex(std::string_view key) { return ToHex(AsBytes(key)); }

inline std::string Numbered(const std::string& prefix, uint64_t n, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llu", digits, static_cast<unsigned long long>(n));
  return prefix + buf;
}

inline bool IncidentOpen(v1::IncidentStatus s) {
  return s == v1::INCIDENT_STATUS_OPEN || s == v1::INCIDENT_STATUS_UNDER_MITIGATION;
}

// A shipment not yet dispatched (its lots are IN_SHIPMENT, held by the exporter).
inline bool ShipmentPending(v1::ShipmentStatus s) {
  return s == v1::SHIPMENT_STATUS_FORMED || s == v1::SHIPMENT_STATUS_CERTIFIED ||
         s == v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED;
}

inline crypto::PrivateKey ActorKey(uint32_t n) {
  Bytes secret(32, 0);
  secret[0] = 0x5A;
  secret[1] = 0x17;
  secret[30] = static_cast<uint8_t>(n >> 8);
  secret[31] = static_cast<uint8_t>(n);
  auto key = crypto::PrivateKey::FromBytes(secret);
  MT_ASSERT(key.has_value());
  return *key;
}

struct Actor {
  std::string name;
  crypto::PrivateKey key;
  std::string id;  // the 32-byte x-only public key
  std::vector<v1::Role> roles;
  bool Has(v1::Role r) const { return std::find(roles.begin(), roles.end(), r) != roles.end(); }
};

// One transaction the generator wants in the next block.
struct Planned {
  v1::TxBody body;
  size_t signer = 0;
  bool must_fail = false;
  std::string why;      // a deliberate breach: the rule it breaks
  std::string mention;  // a deliberate breach: an id its refusal should name
  // ReceiveLots: weight found minus weight dispatched, per lot (mass accounting).
  std::vector<std::pair<std::string, int64_t>> receive_deltas;
};

struct ShipmentModel {
  std::string exporter;
  std::vector<std::string> lots;
  v1::ShipmentStatus status = v1::SHIPMENT_STATUS_FORMED;
  std::string smelter;
  uint64_t weight_grams = 0;
};

struct IncidentModel {
  std::string id;
  v1::IncidentSubjectKind kind = v1::INCIDENT_SUBJECT_UNSPECIFIED;
  std::string subject;
  uint32_t level = 0;
  v1::IncidentCategory category = v1::INCIDENT_CATEGORY_UNSPECIFIED;
  v1::IncidentStatus status = v1::INCIDENT_STATUS_OPEN;
};

// What a block's planning reserved: no two transactions of a block touch the same lot, tag,
// shipment or incident; a breach freezes what its refusal depends on (no transaction of the
// block may change it), and a change is planned only on what is not frozen.
struct Claims {
  std::set<std::string> lots, tags, shipments, incidents;
  std::set<std::string> sites_changed, sites_frozen;
  std::set<std::string> members_changed, members_frozen;  // suspension and audit flag
};

// The committed state at a block boundary, read through Ledger queries, with the indexes the
// generator plans from.
struct Snapshot {
  uint64_t height = 0;
  int64_t time_ms = 0;
  std::map<std::string, v1::Lot> lots;
  std::map<std::string, v1::MineSite> sites;             // effective status at the head's time
  std::map<std::string, v1::Tag> tags;                   // every tag the model saw allocated
  std::map<std::string, v1::Member> members;             // by key, every actor registered
  std::map<std::string, std::vector<std::string>> held;  // holder -> HELD lots
  std::map<std::string, std::vector<std::string>> transit_to;    // receiver -> lots
  std::map<std::string, std::vector<std::string>> transit_from;  // sender -> lots
  std::map<std::string, std::vector<std::string>> free_tags;     // owner -> usable tags
  std::vector<std::string> used_tags, dead_tags, withdrawn_tags, consumed_lots, shipment_lots;
};

struct Count {
  int ok = 0;
  int failed = 0;
  int breaches = 0;  // deliberate breaches planned (all must be FAILED)
};

struct Outcome {
  std::vector<std::string> violations;
  std::map<Case, Count> counts;
  std::map<std::string, int> anomalies;
  std::map<std::string, int> refusals_of_valid;  // action + reason of planned-valid refusals
  std::map<std::string, int> breaches;           // action + the rule broken
  uint64_t height = 0;
  std::string accumulator_root;
  std::string reached;  // what the history made: lots, shipments, incidents by final status
  int txs = 0;
};

class History {
 public:
  // `name` keeps the data directories of histories that run at the same time apart.
  History(uint64_t seed, int random_blocks, std::string name)
      : seed_(seed), random_blocks_(random_blocks), name_(std::move(name)), rng_(seed) {}
  ~History() {
    ledger_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  History(const History&) = delete;
  History& operator=(const History&) = delete;

  Outcome Run();

 private:
  // ---- randomness ----
  uint64_t U(uint64_t lo, uint64_t hi) {  // inclusive
    MT_ASSERT(lo <= hi);
    return lo + rng_() % (hi - lo + 1);
  }
  bool Chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }
  template <class T>
  const T& Pick(const std::vector<T>& v) {
    MT_ASSERT(!v.empty());
    return v[U(0, v.size() - 1)];
  }
  template <class T>
  std::vector<T> Sample(std::vector<T> v, size_t k) {
    for (size_t i = 0; i < v.size() && i < k; ++i) std::swap(v[i], v[U(i, v.size() - 1)]);
    v.resize(std::min(k, v.size()));
    return v;
  }
  static std::vector<std::string> Unclaimed(const std::vector<std::string>& ids,
                                            const std::set<std::string>& claimed) {
    std::vector<std::string> out;
    for (const auto& id : ids) {
      if (!claimed.count(id)) out.push_back(id);
    }
    return out;
  }

  // ---- actors ----
  const Actor& A(size_t i) const { return actors_.at(i); }
  size_t AddActor(const std::string& name, std::vector<v1::Role> roles);
  // Active at the block's start and not suspended or reinstated within the block.
  bool Active(size_t i) const {
    if (claims_.members_changed.count(A(i).id)) return false;
    auto it = snap_.members.find(A(i).id);
    return it != snap_.members.end() && it->second.status() == v1::MEMBER_STATUS_ACTIVE;
  }
  std::optional<size_t> PickActive(const std::vector<size_t>& from) {
    std::vector<size_t> active;
    for (size_t i : from) {
      if (Active(i)) active.push_back(i);
    }
    if (active.empty()) return std::nullopt;
    return Pick(active);
  }
  // An active one if there is one (a breach should be refused for its own rule).
  size_t AnyActive(const std::vector<size_t>& from) {
    auto active = PickActive(from);
    return active ? *active : Pick(from);
  }
  std::optional<size_t> PickOther(const std::vector<size_t>& from, size_t not_this) {
    std::vector<size_t> others;
    for (size_t i : from) {
      if (i != not_this && Active(i)) others.push_back(i);
    }
    if (others.empty()) return std::nullopt;
    return Pick(others);
  }
  std::optional<size_t> ActorById(const std::string& id) const {
    auto it = actor_by_id_.find(id);
    if (it == actor_by_id_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<size_t> Dispatchers() const;
  std::vector<size_t> Receivers() const;

  // ---- planning ----
  v1::TxBody Body() {
    v1::TxBody b;
    b.set_chain_id(kChainId);
    b.set_nonce(++nonce_);
    b.set_created_at_ms(now_ms_);
    return b;
  }
  static Planned Plan(size_t signer, v1::TxBody body) {
    Planned p;
    p.signer = signer;
    p.body = std::move(body);
    return p;
  }
  // A deliberate breach: its signer's status is frozen for the block, so the refusal is for
  // the rule it breaks rather than a suspension planned after it.
  Planned Breach(size_t signer, v1::TxBody body, std::string why, std::string mention) {
    claims_.members_frozen.insert(A(signer).id);
    Planned p = Plan(signer, std::move(body));
    p.must_fail = true;
    p.why = std::move(why);
    p.mention = std::move(mention);
    return p;
  }
  std::vector<Planned> PlanSetup(int step);
  std::vector<Planned> PlanRandomBlock();
  std::optional<Planned> PlanOne();
  std::optional<Planned> PlanAction(Case action, bool bad);
  std::optional<Planned> PlanRegisterMember(bool bad);
  std::optional<Planned> PlanSuspension(bool suspend, bool bad);
  std::optional<Planned> PlanRegisterMineSite(bool bad);
  std::optional<Planned> PlanAllocateTags(bool bad);
  std::optional<Planned> PlanRecordMineLot(bool bad);
  std::optional<Planned> PlanDispatchLots(bool bad);
  std::optional<Planned> PlanReceiveLots(bool bad);
  std::optional<Planned> PlanCancelDispatch(bool bad);
  std::optional<Planned> PlanRecordInspection(bool bad);
  std::optional<Planned> PlanSetSiteStatus(bool bad);
  std::optional<Planned> PlanReportTags(bool bad);
  std::optional<Planned> PlanWithdrawOrRestore(bool withdraw, bool bad);
  std::optional<Planned> PlanProcessLots(bool bad);
  std::optional<Planned> PlanFormShipment(bool bad);
  std::optional<Planned> PlanReviewShipment(bool bad);
  std::optional<Planned> PlanDispatchShipment(bool bad);
  std::optional<Planned> PlanReceiveShipment(bool bad);
  std::optional<Planned> PlanCancelShipment(bool bad);
  std::optional<Planned> PlanReportIncident(bool bad);
  std::optional<Planned> PlanUpdateIncident(bool bad);
  std::optional<Planned> PlanSetAuditFlag(bool bad);

  std::vector<std::string> ShipmentsIn(std::initializer_list<v1::ShipmentStatus> statuses) const;
  std::vector<std::string> SitesWhere(bool withdrawn) const;
  // Tag ids: one prefix per site and agent ("SSK-001A5-0000012"), one per processor.
  static std::string MinePrefix(const std::string& site, size_t agent) {
    return "S" + site.substr(3) + "A" + std::to_string(agent) + "-";
  }
  std::string NextTagPrefixRange(const std::string& prefix, uint32_t count, uint64_t* first);
  std::vector<uint64_t> SplitWeight(uint64_t total, size_t parts);

  // ---- the export rule, as the models see it ----
  struct Blockers {
    std::vector<std::string> what;  // descriptions, empty = nothing blocks
    std::vector<std::string> incidents;
    std::vector<std::string> sites;
  };
  Blockers ExportBlockers(const std::vector<std::string>& lot_ids, const std::string& exporter,
                          int64_t time_ms, std::vector<std::string>* problems) const;
  std::vector<std::string> Upstream(const std::vector<std::string>& lot_ids,
                                    std::vector<std::string>* problems) const;
  // Whether a deliberate export breach's blockers can be frozen for this block.
  bool FreezeBlockers(const Blockers& b, const std::string& exporter);

  // ---- running and checking ----
  Result<void> Open();
  Result<void> ReadSnapshot();
  void RunBlock(std::vector<Planned> plan);
  void Apply(const Planned& p, const v1::Receipt& r, size_t index);
  void CheckExportEvent(const std::string& shipment_id, const std::string& signer, bool dispatch,
                        const v1::Receipt& r, size_t index);
  void CheckState();
  void CheckRecordsAgainstModels();
  void Violation(std::string what) {
    out_.violations.push_back("height " + std::to_string(height_) + ": " + std::move(what));
  }

  const uint64_t seed_;
  const int random_blocks_;
  const std::string name_;
  std::mt19937_64 rng_;
  std::filesystem::path dir_;
  std::unique_ptr<Ledger> ledger_;
  crypto::PrivateKey validator_ = ActorKey(1);
  int64_t now_ms_ = kStartMs + 1000;
  uint64_t height_ = 0;  // of the block being run
  uint64_t nonce_ = 0;
  Snapshot snap_;
  Claims claims_;
  Outcome out_;

  std::vector<Actor> actors_;
  std::map<std::string, size_t> actor_by_id_;
  std::set<size_t> registered_;
  std::vector<size_t> initial_;       // actors registered by the first block
  std::vector<size_t> unregistered_;  // actors the history may still register
  size_t admin_ = 0;
  std::vector<size_t> regulators_, certifiers_, agents_, coops_, traders_, processors_, exporters_,
      smelters_;

  // Models built from committed receipts only.
  std::map<std::string, v1::SiteStatus> site_status_;  // recorded status
  std::map<std::string, int64_t> site_inspected_ms_;   // lapse clock
  std::map<std::string, std::vector<size_t>> site_agents_;
  std::vector<std::string> tag_ids_;          // every tag allocated
  std::map<std::string, uint64_t> next_tag_;  // prefix -> next free number
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> allocated_ranges_;
  std::map<std::string, ShipmentModel> shipments_;
  std::vector<IncidentModel> incidents_;  // INC-n is incidents_[n-1]
  std::map<std::string, v1::AuditFlag> audit_;
  std::set<std::string> certificate_numbers_;
  std::map<std::string, uint64_t> mine_weight_;       // mine lot -> weight recorded
  int64_t receive_net_grams_ = 0;                     // sum of found - dispatched
  int64_t receive_gain_grams_ = 0;                    // the positive part of it
  std::map<std::string, uint64_t> dead_since_;        // tag -> height seen void/lost/withdrawn
  uint64_t flags_raised_ = 0;                         // anomalies on receipts so far
  std::map<std::string, std::string> flag_lots_;      // FLG id -> its lot (if any)
  std::map<std::string, std::string> flag_incident_;  // FLG id -> the incident opened from it
  std::map<std::string, v1::MassBalance> balances_;   // member -> its mass balance
  std::set<std::string> touched_shipments_;           // formed or dispatched in this block
  v1::MassBalance& Balance(const std::string& member) {
    v1::MassBalance& b = balances_[member];
    b.set_member_key(member);
    return b;
  }

  int shipment_counter_ = 0;
  int certificate_counter_ = 0;
  int site_counter_ = 0;
  int inspection_counter_ = 0;
};

// What a history did, as printed after a run.
std::string Summary(uint64_t seed, const Outcome& o);

}  // namespace minetrace::ledger::history
