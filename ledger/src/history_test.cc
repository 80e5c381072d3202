// Goal: issue 5 acceptance 2. A generated history of thousands of random actions by many
// actors runs through the real rules and Ledger (RocksDB), and after every block the ledger's
// own records must show: no tag used twice, no lot with two holders, mass never created,
// every shipment traces to mine lots, nothing exported past an open level-1 incident.
//
// Method: a seeded generator (std::mt19937_64; the seed is printed with every failure)
// reads the committed state at the start of each block and plans 20-50 transactions from it:
// mostly actions that should pass, and a share that deliberately breaks one rule (each says
// which). A deliberate breach that commits OK is a failure. Within a block no two planned
// transactions touch the same lot, tag, shipment or incident, and a breach freezes what its
// verdict depends on, so every breach must be refused whatever else the block does. After
// the block commits, its receipts are replayed in order against small independent models
// built from committed receipts only (incidents, site statuses, audit flags, shipments) to
// judge every certification and dispatch at the moment it ran; the other invariants are
// checked from the ledger's records through Ledger queries.
//
// MINETRACE_HISTORY_SEEDS=N runs seeds 1..N instead of the default ones (a soak);
// MINETRACE_HISTORY_VERBOSE=1 also prints why planned-valid transactions were refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "minetrace/base/assert.h"
#include "minetrace/ledger/ledger.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/ledger/rules.h"

namespace minetrace::ledger {
namespace {

using Case = v1::TxBody::ActionCase;

constexpr int64_t kStartMs = 1'790'000'000'000;  // 2026-09
constexpr int64_t kMinuteMs = 60 * 1000;
constexpr int64_t kHourMs = 60 * kMinuteMs;
constexpr int64_t kDayMs = 24 * kHourMs;
constexpr char kChainId[] = "history-chain";
constexpr char kSuspendedActs[] = "a suspended member may not act";

// Every action of TxBody; the history must commit each at least once.
const std::vector<Case> kAllActions = {
    v1::TxBody::kRegisterMember,   v1::TxBody::kSuspendMember,   v1::TxBody::kReinstateMember,
    v1::TxBody::kRegisterMineSite, v1::TxBody::kAllocateTags,    v1::TxBody::kRecordMineLot,
    v1::TxBody::kDispatchLots,     v1::TxBody::kReceiveLots,     v1::TxBody::kCancelDispatch,
    v1::TxBody::kRecordInspection, v1::TxBody::kSetSiteStatus,   v1::TxBody::kReportTags,
    v1::TxBody::kWithdrawSiteTags, v1::TxBody::kRestoreSiteTags, v1::TxBody::kProcessLots,
    v1::TxBody::kFormShipment,     v1::TxBody::kReviewShipment,  v1::TxBody::kDispatchShipment,
    v1::TxBody::kReceiveShipment,  v1::TxBody::kCancelShipment,  v1::TxBody::kReportIncident,
    v1::TxBody::kUpdateIncident,   v1::TxBody::kSetAuditFlag,
};

std::string ActionName(Case c) {
  const auto* field = v1::TxBody::descriptor()->FindFieldByNumber(static_cast<int>(c));
  return field == nullptr ? std::string("none") : std::string(field->name());
}

std::string Hex(std::string_view key) { return ToHex(AsBytes(key)); }

std::string Numbered(const std::string& prefix, uint64_t n, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llu", digits, static_cast<unsigned long long>(n));
  return prefix + buf;
}

bool IncidentOpen(v1::IncidentStatus s) {
  return s == v1::INCIDENT_STATUS_OPEN || s == v1::INCIDENT_STATUS_UNDER_MITIGATION;
}

// A shipment not yet dispatched (its lots are IN_SHIPMENT, held by the exporter).
bool ShipmentPending(v1::ShipmentStatus s) {
  return s == v1::SHIPMENT_STATUS_FORMED || s == v1::SHIPMENT_STATUS_CERTIFIED ||
         s == v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED;
}

crypto::PrivateKey ActorKey(uint32_t n) {
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

// ---------------------------------------------------------------------------------------
// Actors and setup

size_t History::AddActor(const std::string& name, std::vector<v1::Role> roles) {
  Actor a{name, ActorKey(static_cast<uint32_t>(actors_.size() + 2)), "", std::move(roles)};
  a.id = std::string(a.key.public_key().begin(), a.key.public_key().end());
  actor_by_id_[a.id] = actors_.size();
  actors_.push_back(std::move(a));
  return actors_.size() - 1;
}

std::vector<size_t> History::Dispatchers() const {
  std::vector<size_t> v;
  for (size_t i : registered_) {
    const Actor& a = A(i);
    if (a.Has(v1::ROLE_COOPERATIVE) || a.Has(v1::ROLE_TRADER) || a.Has(v1::ROLE_PROCESSOR) ||
        a.Has(v1::ROLE_EXPORTER)) {
      v.push_back(i);
    }
  }
  return v;
}

std::vector<size_t> History::Receivers() const {
  std::vector<size_t> v;
  for (size_t i : registered_) {
    const Actor& a = A(i);
    if (a.Has(v1::ROLE_TRADER) || a.Has(v1::ROLE_PROCESSOR) || a.Has(v1::ROLE_EXPORTER) ||
        a.Has(v1::ROLE_SMELTER)) {
      v.push_back(i);
    }
  }
  return v;
}

Result<void> History::Open() {
  dir_ =
      std::filesystem::temp_directory_path() / ("minetrace-history-" + std::to_string(::getpid()) +
                                                "-" + name_ + "-" + std::to_string(seed_));
  std::filesystem::remove_all(dir_);
  v1::Genesis genesis;
  genesis.set_chain_id(kChainId);
  genesis.set_genesis_time_ms(kStartMs);
  auto* v = genesis.add_validators();
  v->set_key(std::string(validator_.public_key().begin(), validator_.public_key().end()));
  v->set_name("validator-0");
  admin_ = AddActor("secretariat", {v1::ROLE_ADMINISTRATOR});
  auto* a = genesis.add_administrators();
  a->set_key(A(admin_).id);
  a->set_name("secretariat");
  registered_.insert(admin_);
  auto ledger = Ledger::Open(dir_, genesis);
  if (!ledger) return tl::unexpected(ledger.error());
  ledger_ = std::move(*ledger);

  // The cast; one exporter is also a certifier (it may not certify its own shipments).
  auto add = [&](const std::string& name, std::vector<v1::Role> roles) {
    initial_.push_back(AddActor(name, std::move(roles)));
  };
  for (int i = 1; i <= 2; ++i) add("regulator-" + std::to_string(i), {v1::ROLE_REGULATOR});
  for (int i = 1; i <= 2; ++i) add("certifier-" + std::to_string(i), {v1::ROLE_CERTIFIER});
  for (int i = 1; i <= 5; ++i) add("agent-" + std::to_string(i), {v1::ROLE_AGENT});
  for (int i = 1; i <= 4; ++i) add("coop-" + std::to_string(i), {v1::ROLE_COOPERATIVE});
  for (int i = 1; i <= 4; ++i) add("trader-" + std::to_string(i), {v1::ROLE_TRADER});
  for (int i = 1; i <= 3; ++i) add("processor-" + std::to_string(i), {v1::ROLE_PROCESSOR});
  for (int i = 1; i <= 2; ++i) add("exporter-" + std::to_string(i), {v1::ROLE_EXPORTER});
  add("exporter-certifier", {v1::ROLE_EXPORTER, v1::ROLE_CERTIFIER});
  for (int i = 1; i <= 2; ++i) add("smelter-" + std::to_string(i), {v1::ROLE_SMELTER});
  // Registered later in the history.
  for (int i = 5; i <= 7; ++i)
    unregistered_.push_back(AddActor("trader-" + std::to_string(i), {v1::ROLE_TRADER}));
  unregistered_.push_back(AddActor("coop-5", {v1::ROLE_COOPERATIVE}));
  unregistered_.push_back(AddActor("processor-4", {v1::ROLE_PROCESSOR, v1::ROLE_TRADER}));
  return ReadSnapshot();
}

std::vector<Planned> History::PlanSetup(int step) {
  std::vector<Planned> plan;
  if (step == 0) {  // members
    for (size_t i : initial_) {
      auto b = Body();
      auto* a = b.mutable_register_member();
      a->set_member_key(A(i).id);
      a->set_name(A(i).name);
      for (auto r : A(i).roles) a->add_roles(r);
      a->set_country(A(i).Has(v1::ROLE_SMELTER) ? "MY" : "CD");
      plan.push_back(Plan(admin_, b));
    }
  } else if (step == 1) {  // sites: six green, one yellow, one red
    static constexpr v1::Mineral kM[][2] = {{v1::MINERAL_CASSITERITE, v1::MINERAL_UNSPECIFIED},
                                            {v1::MINERAL_COLTAN, v1::MINERAL_CASSITERITE},
                                            {v1::MINERAL_WOLFRAMITE, v1::MINERAL_UNSPECIFIED}};
    for (int i = 1; i <= 8; ++i) {
      auto b = Body();
      auto* a = b.mutable_register_mine_site();
      a->set_site_id(Numbered("CD-SK-", static_cast<uint64_t>(i), 3));
      a->set_name("Site " + std::to_string(i));
      a->set_country("CD");
      a->set_latitude_microdeg(-2'000'000 - i * 10'000);
      a->set_longitude_microdeg(28'000'000 + i * 10'000);
      for (auto m : kM[i % 3]) {
        if (m != v1::MINERAL_UNSPECIFIED) a->add_minerals(m);
      }
      a->set_status(i == 7   ? v1::SITE_STATUS_YELLOW
                    : i == 8 ? v1::SITE_STATUS_RED
                             : v1::SITE_STATUS_GREEN);
      // Two small sites, so tagged volume goes above their estimate.
      a->set_production_estimate_kg_per_month(i <= 2 ? 8'000 : 400'000);
      plan.push_back(Plan(i % 2 == 0 ? admin_ : regulators_.at(0), b));
      site_agents_[a->site_id()] = {agents_.at(static_cast<size_t>(i) % agents_.size()),
                                    agents_.at(static_cast<size_t>(i + 2) % agents_.size())};
    }
    site_counter_ = 8;
  } else {  // tags: mine tags for each site's agents, processor tags for each processor
    for (const auto& [site, agents] : site_agents_) {
      for (size_t agent : agents) {
        auto b = Body();
        auto* a = b.mutable_allocate_tags();
        a->set_site_id(site);
        a->set_agent_key(A(agent).id);
        uint64_t first = 0;
        a->set_prefix(NextTagPrefixRange(MinePrefix(site, agent), 40, &first));
        a->set_first(first);
        a->set_count(40);
        a->set_kind(v1::TAG_KIND_MINE);
        plan.push_back(Plan(admin_, b));
      }
    }
    for (size_t p : processors_) {
      auto b = Body();
      auto* a = b.mutable_allocate_tags();
      a->set_agent_key(A(p).id);
      uint64_t first = 0;
      a->set_prefix(NextTagPrefixRange("PR" + std::to_string(p) + "-", 150, &first));
      a->set_first(first);
      a->set_count(150);
      a->set_kind(v1::TAG_KIND_PROCESSOR);
      plan.push_back(Plan(admin_, b));
    }
  }
  return plan;
}

std::string History::NextTagPrefixRange(const std::string& prefix, uint32_t count,
                                        uint64_t* first) {
  uint64_t& next = next_tag_[prefix];
  if (next == 0) next = 1;
  *first = next;
  next += count;
  return prefix;
}

std::vector<uint64_t> History::SplitWeight(uint64_t total, size_t parts) {
  MT_ASSERT(parts >= 1 && total >= parts);
  std::vector<uint64_t> shares(parts);
  uint64_t sum = 0;
  for (auto& s : shares) sum += (s = U(1, 100));
  std::vector<uint64_t> out(parts);
  uint64_t given = 0;
  for (size_t i = 0; i < parts; ++i) {
    out[i] = std::max<uint64_t>(1, total * shares[i] / sum);
    given += out[i];
  }
  // Make the parts sum to `total` exactly: take from or give to the largest.
  auto largest = std::max_element(out.begin(), out.end());
  if (given > total) {
    *largest -= given - total;
  } else {
    *largest += total - given;
  }
  return out;
}

std::vector<std::string> History::ShipmentsIn(
    std::initializer_list<v1::ShipmentStatus> statuses) const {
  std::vector<std::string> v;
  for (const auto& [id, s] : shipments_) {
    if (claims_.shipments.count(id)) continue;
    if (std::find(statuses.begin(), statuses.end(), s.status) != statuses.end()) v.push_back(id);
  }
  return v;
}

std::vector<std::string> History::SitesWhere(bool withdrawn) const {
  std::vector<std::string> v;
  for (const auto& [id, site] : snap_.sites) {
    if (site.tags_withdrawn() == withdrawn) v.push_back(id);
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// Planning one block

std::vector<Planned> History::PlanRandomBlock() {
  claims_ = Claims{};
  size_t n = U(20, 50);
  std::vector<Planned> plan;
  for (size_t attempts = 0; plan.size() < n && attempts < n * 20; ++attempts) {
    auto p = PlanOne();
    if (p) plan.push_back(std::move(*p));
  }
  return plan;
}

std::optional<Planned> History::PlanOne() {
  // Weights per action (per mille), then about one in five is a deliberate breach.
  struct Weighted {
    int weight;
    Case action;
  };
  static const Weighted kWeights[] = {
      {140, v1::TxBody::kRecordMineLot},   {120, v1::TxBody::kDispatchLots},
      {115, v1::TxBody::kReceiveLots},     {25, v1::TxBody::kCancelDispatch},
      {95, v1::TxBody::kProcessLots},      {60, v1::TxBody::kFormShipment},
      {60, v1::TxBody::kReviewShipment},   {45, v1::TxBody::kDispatchShipment},
      {35, v1::TxBody::kReceiveShipment},  {10, v1::TxBody::kCancelShipment},
      {55, v1::TxBody::kReportIncident},   {65, v1::TxBody::kUpdateIncident},
      {25, v1::TxBody::kRecordInspection}, {20, v1::TxBody::kSetSiteStatus},
      {20, v1::TxBody::kReportTags},       {8, v1::TxBody::kWithdrawSiteTags},
      {12, v1::TxBody::kRestoreSiteTags},  {20, v1::TxBody::kSetAuditFlag},
      {6, v1::TxBody::kSuspendMember},     {14, v1::TxBody::kReinstateMember},
      {24, v1::TxBody::kAllocateTags},     {6, v1::TxBody::kRegisterMember},
      {6, v1::TxBody::kRegisterMineSite},
  };
  int total = 0;
  for (const auto& w : kWeights) total += w.weight;
  int roll = static_cast<int>(U(0, static_cast<uint64_t>(total - 1)));
  Case action = v1::TxBody::ACTION_NOT_SET;
  for (const auto& w : kWeights) {
    if (roll < w.weight) {
      action = w.action;
      break;
    }
    roll -= w.weight;
  }
  // Rare actions break a rule more often, so every history has refusals of each.
  bool rare = action == v1::TxBody::kRegisterMember || action == v1::TxBody::kRegisterMineSite ||
              action == v1::TxBody::kSuspendMember || action == v1::TxBody::kWithdrawSiteTags ||
              action == v1::TxBody::kRestoreSiteTags;
  bool bad = Chance(rare ? 0.4 : 0.2);
  std::optional<Planned> p = PlanAction(action, bad);
  // A breach signed by a suspended member would be refused for the suspension, not for the
  // rule it is meant to test (except the breach that is about suspension).
  if (p && p->must_fail && !Active(p->signer) && p->why != kSuspendedActs) return std::nullopt;
  // Now and then a transaction that would pass comes from a device whose clock is ahead, or
  // is signed for another chain: refused whatever its action.
  if (p && !p->must_fail && Chance(0.01)) {
    p->body.set_created_at_ms(now_ms_ + kMaxDeviceClockAheadMs +
                              static_cast<int64_t>(U(1, kHourMs)));
    return Breach(p->signer, std::move(p->body), "device time is not ahead of the ledger", "");
  }
  if (p && !p->must_fail && Chance(0.005)) {
    p->body.set_chain_id("another-chain");
    return Breach(p->signer, std::move(p->body), "a transaction is for this chain", "");
  }
  return p;
}

std::optional<Planned> History::PlanAction(Case action, bool bad) {
  switch (action) {
    case v1::TxBody::kRegisterMember:
      return PlanRegisterMember(bad);
    case v1::TxBody::kSuspendMember:
      return PlanSuspension(true, bad);
    case v1::TxBody::kReinstateMember:
      return PlanSuspension(false, bad);
    case v1::TxBody::kRegisterMineSite:
      return PlanRegisterMineSite(bad);
    case v1::TxBody::kAllocateTags:
      return PlanAllocateTags(bad);
    case v1::TxBody::kRecordMineLot:
      return PlanRecordMineLot(bad);
    case v1::TxBody::kDispatchLots:
      return PlanDispatchLots(bad);
    case v1::TxBody::kReceiveLots:
      return PlanReceiveLots(bad);
    case v1::TxBody::kCancelDispatch:
      return PlanCancelDispatch(bad);
    case v1::TxBody::kRecordInspection:
      return PlanRecordInspection(bad);
    case v1::TxBody::kSetSiteStatus:
      return PlanSetSiteStatus(bad);
    case v1::TxBody::kReportTags:
      return PlanReportTags(bad);
    case v1::TxBody::kWithdrawSiteTags:
      return PlanWithdrawOrRestore(true, bad);
    case v1::TxBody::kRestoreSiteTags:
      return PlanWithdrawOrRestore(false, bad);
    case v1::TxBody::kProcessLots:
      return PlanProcessLots(bad);
    case v1::TxBody::kFormShipment:
      return PlanFormShipment(bad);
    case v1::TxBody::kReviewShipment:
      return PlanReviewShipment(bad);
    case v1::TxBody::kDispatchShipment:
      return PlanDispatchShipment(bad);
    case v1::TxBody::kReceiveShipment:
      return PlanReceiveShipment(bad);
    case v1::TxBody::kCancelShipment:
      return PlanCancelShipment(bad);
    case v1::TxBody::kReportIncident:
      return PlanReportIncident(bad);
    case v1::TxBody::kUpdateIncident:
      return PlanUpdateIncident(bad);
    case v1::TxBody::kSetAuditFlag:
      return PlanSetAuditFlag(bad);
    case v1::TxBody::ACTION_NOT_SET:
      break;
  }
  return std::nullopt;
}

std::optional<Planned> History::PlanRegisterMember(bool bad) {
  if (bad) {  // a key registered already
    std::vector<size_t> known(registered_.begin(), registered_.end());
    size_t who = Pick(known);
    auto b = Body();
    auto* a = b.mutable_register_member();
    a->set_member_key(A(who).id);
    a->set_name(A(who).name + "-again");
    a->add_roles(v1::ROLE_TRADER);
    return Breach(admin_, b, "a key is registered once", "");
  }
  if (unregistered_.empty()) return std::nullopt;
  size_t who = Pick(unregistered_);
  if (!claims_.members_changed.insert(A(who).id).second) return std::nullopt;
  auto b = Body();
  auto* a = b.mutable_register_member();
  a->set_member_key(A(who).id);
  a->set_name(A(who).name);
  for (auto r : A(who).roles) a->add_roles(r);
  a->set_country("RW");
  return Plan(admin_, b);
}

std::optional<Planned> History::PlanSuspension(bool suspend, bool bad) {
  // Sanctions fall on the trade, never on administrators or regulators.
  std::vector<size_t> candidates;
  for (size_t i : registered_) {
    const Actor& a = A(i);
    if (a.Has(v1::ROLE_ADMINISTRATOR) || a.Has(v1::ROLE_REGULATOR)) continue;
    if (claims_.members_changed.count(a.id) || claims_.members_frozen.count(a.id)) continue;
    // Good: suspend an active member, reinstate a suspended one; bad: the other way round.
    if (Active(i) == (suspend != bad)) candidates.push_back(i);
  }
  if (bad && (candidates.empty() || Chance(0.5))) {  // by a regulator, not an administrator
    std::vector<size_t> trade;
    for (size_t i : registered_) {
      if (!A(i).Has(v1::ROLE_ADMINISTRATOR) && !A(i).Has(v1::ROLE_REGULATOR)) trade.push_back(i);
    }
    size_t who = Pick(trade);
    auto b = Body();
    auto* key = suspend ? b.mutable_suspend_member()->mutable_member_key()
                        : b.mutable_reinstate_member()->mutable_member_key();
    *key = A(who).id;
    return Breach(AnyActive(regulators_), b, "only administrators suspend and reinstate", "");
  }
  if (candidates.empty()) return std::nullopt;
  if (suspend && !bad) {
    int suspended = 0;
    for (size_t i : registered_) suspended += Active(i) ? 0 : 1;
    if (suspended >= 2) return std::nullopt;  // keep the trade going
  }
  size_t who = Pick(candidates);
  auto b = Body();
  if (suspend) {
    b.mutable_suspend_member()->set_member_key(A(who).id);
    b.mutable_suspend_member()->set_reason("sanction after incident review");
  } else {
    b.mutable_reinstate_member()->set_member_key(A(who).id);
    b.mutable_reinstate_member()->set_reason("sanction lifted");
  }
  if (bad) {
    claims_.members_frozen.insert(A(who).id);
    return Breach(admin_, b,
                  suspend ? "a suspended member cannot be suspended again"
                          : "only a suspended member can be reinstated",
                  "");
  }
  claims_.members_changed.insert(A(who).id);
  return Plan(admin_, b);
}

std::optional<Planned> History::PlanRegisterMineSite(bool bad) {
  auto b = Body();
  auto* a = b.mutable_register_mine_site();
  if (bad) {
    a->set_site_id(Pick(SitesWhere(false).empty() ? SitesWhere(true) : SitesWhere(false)));
  } else {
    a->set_site_id(Numbered("CD-NK-", static_cast<uint64_t>(++site_counter_), 3));
  }
  a->set_name("New site");
  a->set_country("CD");
  a->set_latitude_microdeg(-1'500'000);
  a->set_longitude_microdeg(29'000'000);
  a->add_minerals(v1::MINERAL_CASSITERITE);
  if (Chance(0.5)) a->add_minerals(v1::MINERAL_WOLFRAMITE);
  a->set_status(v1::SITE_STATUS_GREEN);
  a->set_production_estimate_kg_per_month(100'000);
  size_t signer = Chance(0.5) ? admin_ : Pick(regulators_);
  if (bad) return Breach(signer, b, "a site id is registered once", a->site_id());
  site_agents_[a->site_id()] = {Pick(agents_), Pick(agents_)};
  return Plan(signer, b);
}

std::optional<Planned> History::PlanAllocateTags(bool bad) {
  auto b = Body();
  auto* a = b.mutable_allocate_tags();
  if (bad) {
    switch (U(0, 3)) {
      case 0: {  // a range overlapping tags allocated before
        if (allocated_ranges_.empty()) return std::nullopt;
        std::vector<std::string> prefixes;
        for (const auto& [p, r] : allocated_ranges_) prefixes.push_back(p);
        const std::string& prefix = Pick(prefixes);
        auto range = Pick(allocated_ranges_.at(prefix));
        std::string some_tag = Numbered(prefix, range.first, 7);
        auto tag = snap_.tags.find(some_tag);
        if (tag == snap_.tags.end()) return std::nullopt;
        a->set_site_id(tag->second.site_id());
        a->set_agent_key(tag->second.agent_key());
        a->set_prefix(prefix);
        a->set_first(range.first + U(0, range.second - 1));
        a->set_count(static_cast<uint32_t>(U(1, 20)));
        a->set_kind(tag->second.kind());
        return Breach(admin_, b, "a tag is allocated once", "");
      }
      case 1: {  // mine tags to a member that is not an agent
        a->set_site_id(Pick(SitesWhere(false)));
        a->set_agent_key(A(Pick(traders_)).id);
        a->set_prefix("BAD-");
        a->set_first(U(1, 1000));
        a->set_count(5);
        a->set_kind(v1::TAG_KIND_MINE);
        return Breach(admin_, b, "mine tags go to an agent", "");
      }
      case 2: {  // processor tags to a member that is not a processor
        a->set_agent_key(A(Pick(agents_)).id);
        a->set_prefix("BADP-");
        a->set_first(U(1, 1000));
        a->set_count(5);
        a->set_kind(v1::TAG_KIND_PROCESSOR);
        return Breach(admin_, b, "processor tags go to a processor", "");
      }
      default: {  // mine tags for a site whose tags are withdrawn
        std::vector<std::string> sites;
        for (const auto& id : SitesWhere(true)) {
          if (!claims_.sites_changed.count(id)) sites.push_back(id);
        }
        if (sites.empty()) return std::nullopt;
        std::string site = Pick(sites);
        claims_.sites_frozen.insert(site);
        a->set_site_id(site);
        a->set_agent_key(A(Pick(agents_)).id);
        a->set_prefix("WD-");
        a->set_first(U(1, 1000));
        a->set_count(5);
        a->set_kind(v1::TAG_KIND_MINE);
        return Breach(admin_, b, "no tags for a site whose tags are withdrawn", site);
      }
    }
  }
  uint64_t first = 0;
  if (Chance(0.25)) {  // processor tags when a processor runs low
    size_t p = Pick(processors_);
    if (!registered_.count(p)) return std::nullopt;
    auto it = snap_.free_tags.find(A(p).id);
    if (it != snap_.free_tags.end() && it->second.size() >= 40) return std::nullopt;
    a->set_agent_key(A(p).id);
    a->set_prefix(NextTagPrefixRange("PR" + std::to_string(p) + "-", 100, &first));
    a->set_first(first);
    a->set_count(100);
    a->set_kind(v1::TAG_KIND_PROCESSOR);
    return Plan(admin_, b);
  }
  std::vector<std::string> sites;
  for (const auto& id : SitesWhere(false)) {
    if (snap_.sites.at(id).status() != v1::SITE_STATUS_RED) sites.push_back(id);
  }
  if (sites.empty()) return std::nullopt;
  std::string site = Pick(sites);
  size_t agent = Pick(site_agents_.at(site));
  size_t free_here = 0;
  auto it = snap_.free_tags.find(A(agent).id);
  if (it != snap_.free_tags.end()) {
    for (const auto& t : it->second) free_here += snap_.tags.at(t).site_id() == site ? 1 : 0;
  }
  if (free_here >= 15) return std::nullopt;
  uint32_t count = static_cast<uint32_t>(U(20, 60));
  a->set_site_id(site);
  a->set_agent_key(A(agent).id);
  a->set_prefix(NextTagPrefixRange(MinePrefix(site, agent), count, &first));
  a->set_first(first);
  a->set_count(count);
  a->set_kind(v1::TAG_KIND_MINE);
  return Plan(admin_, b);
}

std::optional<Planned> History::PlanRecordMineLot(bool bad) {
  auto b = Body();
  auto* a = b.mutable_record_mine_lot();
  // Bags of 20 kg to 1.5 t, and now and then a lorry load near the 100 t limit.
  a->set_weight_grams(Chance(0.01) ? U(kMaxLotWeightGrams / 2, kMaxLotWeightGrams)
                                   : U(20'000, 1'500'000));
  a->set_grade_basis_points(static_cast<uint32_t>(U(500, 7500)));
  auto producer = PickActive(coops_);
  if (!producer) return std::nullopt;
  a->set_producer_key(A(*producer).id);
  // A usable mine tag of an active agent, with its site.
  // (Tags of red sites only when `red`, else never: lots are not planned at red sites.)
  auto usable = [&](bool red = false) -> std::optional<std::pair<size_t, std::string>> {
    auto agent = PickActive(agents_);
    if (!agent) return std::nullopt;
    auto it = snap_.free_tags.find(A(*agent).id);
    if (it == snap_.free_tags.end()) return std::nullopt;
    std::vector<std::string> free;
    for (const auto& t : Unclaimed(it->second, claims_.tags)) {
      const auto& site = snap_.sites.at(snap_.tags.at(t).site_id());
      if ((EffectiveSiteStatus(site, now_ms_) == v1::SITE_STATUS_RED) == red) free.push_back(t);
    }
    if (free.empty()) return std::nullopt;
    std::string tag = Pick(free);
    claims_.tags.insert(tag);
    return std::make_pair(*agent, tag);
  };
  auto mineral_of = [&](const std::string& site) {
    const auto& s = snap_.sites.at(site);
    return s.minerals(static_cast<int>(U(0, static_cast<uint64_t>(s.minerals_size() - 1))));
  };
  if (!bad) {
    auto u = usable();
    if (!u) return std::nullopt;
    const v1::Tag& tag = snap_.tags.at(u->second);
    // Agents at remote mines often upload days after signing.
    if (Chance(0.1)) b.set_created_at_ms(now_ms_ - static_cast<int64_t>(U(kHourMs, 3 * kDayMs)));
    if (Chance(0.02)) {
      b.set_created_at_ms(now_ms_ - static_cast<int64_t>(U(8 * kDayMs, 10 * kDayMs)));
    }
    a->set_tag_id(tag.tag_id());
    a->set_site_id(tag.site_id());
    a->set_mineral(mineral_of(tag.site_id()));
    return Plan(u->first, b);
  }
  switch (U(0, 9)) {
    case 0: {  // a tag used already
      if (snap_.used_tags.empty()) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(Pick(snap_.used_tags));
      if (tag.kind() != v1::TAG_KIND_MINE) return std::nullopt;
      auto agent = ActorById(tag.agent_key());
      if (!agent) return std::nullopt;
      a->set_tag_id(tag.tag_id());
      a->set_site_id(tag.site_id());
      a->set_mineral(mineral_of(tag.site_id()));
      return Breach(*agent, b, "a tag is used once", tag.tag_id());
    }
    case 1: {  // another agent's tag
      auto u = usable();
      if (!u) return std::nullopt;
      auto other = PickOther(agents_, u->first);
      if (!other) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(u->second);
      a->set_tag_id(tag.tag_id());
      a->set_site_id(tag.site_id());
      a->set_mineral(mineral_of(tag.site_id()));
      return Breach(*other, b, "a tag is used by the agent it is allocated to (tag_off_agent)",
                    tag.tag_id());
    }
    case 2: {  // a tag at another site than its allocation
      auto u = usable();
      if (!u) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(u->second);
      std::vector<std::string> others;
      for (const auto& [id, s] : snap_.sites) {
        if (id != tag.site_id()) others.push_back(id);
      }
      std::string site = Pick(others);
      a->set_tag_id(tag.tag_id());
      a->set_site_id(site);
      a->set_mineral(mineral_of(site));
      return Breach(u->first, b, "a tag is used at its own site (tag_off_site)", tag.tag_id());
    }
    case 3: {  // a void or lost tag
      if (snap_.dead_tags.empty()) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(Pick(snap_.dead_tags));
      auto agent = ActorById(tag.agent_key());
      if (!agent || tag.kind() != v1::TAG_KIND_MINE) return std::nullopt;
      a->set_tag_id(tag.tag_id());
      a->set_site_id(tag.site_id());
      a->set_mineral(mineral_of(tag.site_id()));
      return Breach(*agent, b, "a void or lost tag is never used", tag.tag_id());
    }
    case 4: {  // a tag withdrawn with its site's tags
      if (snap_.withdrawn_tags.empty()) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(Pick(snap_.withdrawn_tags));
      auto agent = ActorById(tag.agent_key());
      if (!agent) return std::nullopt;
      a->set_tag_id(tag.tag_id());
      a->set_site_id(tag.site_id());
      a->set_mineral(mineral_of(tag.site_id()));
      return Breach(*agent, b, "a withdrawn tag is never used", tag.tag_id());
    }
    case 5: {  // a red site
      auto u = usable(true);
      if (!u) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(u->second);
      const std::string& site = tag.site_id();
      if (claims_.sites_changed.count(site)) return std::nullopt;
      if (EffectiveSiteStatus(snap_.sites.at(site), now_ms_) != v1::SITE_STATUS_RED) {
        return std::nullopt;
      }
      claims_.sites_frozen.insert(site);
      a->set_tag_id(tag.tag_id());
      a->set_site_id(site);
      a->set_mineral(mineral_of(site));
      return Breach(u->first, b, "no mine lot at a red site", site);
    }
    case 6: {  // a mineral the site does not declare
      auto u = usable();
      if (!u) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(u->second);
      const auto& s = snap_.sites.at(tag.site_id());
      for (auto m : {v1::MINERAL_CASSITERITE, v1::MINERAL_WOLFRAMITE, v1::MINERAL_COLTAN}) {
        if (std::find(s.minerals().begin(), s.minerals().end(), m) == s.minerals().end()) {
          a->set_tag_id(tag.tag_id());
          a->set_site_id(tag.site_id());
          a->set_mineral(m);
          return Breach(u->first, b, "the mineral is one the site declares", tag.site_id());
        }
      }
      return std::nullopt;
    }
    case 7: {  // a processor tag used as a mine tag, by the processor it belongs to
      auto p = PickActive(processors_);
      if (!p) return std::nullopt;
      auto it = snap_.free_tags.find(A(*p).id);
      if (it == snap_.free_tags.end() || it->second.empty()) return std::nullopt;
      a->set_tag_id(Pick(it->second));
      a->set_site_id(Pick(SitesWhere(false)));
      a->set_mineral(mineral_of(a->site_id()));
      return Breach(*p, b, "mine lots are recorded by agents with mine tags", "");
    }
    case 9: {  // no weight, or beyond 100 t
      auto u = usable();
      if (!u) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(u->second);
      a->set_tag_id(tag.tag_id());
      a->set_site_id(tag.site_id());
      a->set_mineral(mineral_of(tag.site_id()));
      a->set_weight_grams(Chance(0.5) ? 0 : kMaxLotWeightGrams + U(1, 1000));
      return Breach(u->first, b, "a lot weighs more than 0 and at most 100 t", "");
    }
    default: {  // a trader records a mine lot with an agent's tag
      auto u = usable();
      if (!u) return std::nullopt;
      const v1::Tag& tag = snap_.tags.at(u->second);
      a->set_tag_id(tag.tag_id());
      a->set_site_id(tag.site_id());
      a->set_mineral(mineral_of(tag.site_id()));
      return Breach(AnyActive(traders_), b, "only agents record mine lots", "");
    }
  }
}

std::optional<Planned> History::PlanDispatchLots(bool bad) {
  auto b = Body();
  auto* a = b.mutable_dispatch_lots();
  a->set_delivery_note("bon de livraison " + std::to_string(nonce_));
  // An active holder with unclaimed held lots, and a receiver fitting its trade.
  auto pick_holder = [&]() -> std::optional<std::pair<size_t, std::vector<std::string>>> {
    auto holder = PickActive(Dispatchers());
    if (!holder) return std::nullopt;
    auto it = snap_.held.find(A(*holder).id);
    if (it == snap_.held.end()) return std::nullopt;
    auto lots = Unclaimed(it->second, claims_.lots);
    if (lots.empty()) return std::nullopt;
    return std::make_pair(*holder, lots);
  };
  auto pick_receiver = [&](size_t holder) -> std::optional<size_t> {
    const Actor& h = A(holder);
    std::vector<size_t> pool;
    double r = static_cast<double>(U(0, 99));
    if (h.Has(v1::ROLE_COOPERATIVE)) {
      pool = r < 60 ? traders_ : r < 80 ? processors_ : exporters_;
    } else if (h.Has(v1::ROLE_TRADER) && !h.Has(v1::ROLE_PROCESSOR)) {
      pool = r < 20 ? traders_ : r < 60 ? processors_ : exporters_;
    } else if (h.Has(v1::ROLE_PROCESSOR)) {
      pool = r < 80 ? exporters_ : traders_;
    } else {
      pool = r < 85 ? exporters_ : smelters_;
    }
    return PickOther(pool, holder);
  };
  if (!bad) {
    auto h = pick_holder();
    if (!h) return std::nullopt;
    auto receiver = pick_receiver(h->first);
    if (!receiver) return std::nullopt;
    for (const auto& id : Sample(h->second, U(1, 4))) {
      a->add_lot_ids(id);
      claims_.lots.insert(id);
    }
    a->set_receiver_key(A(*receiver).id);
    return Plan(h->first, b);
  }
  switch (U(0, 5)) {
    case 0: {  // a lot held by another member
      auto h = pick_holder();
      if (!h) return std::nullopt;
      auto thief = PickOther(Dispatchers(), h->first);
      if (!thief) return std::nullopt;
      auto receiver = pick_receiver(*thief);
      if (!receiver) return std::nullopt;
      std::string lot = Pick(h->second);
      claims_.lots.insert(lot);
      a->add_lot_ids(lot);
      a->set_receiver_key(A(*receiver).id);
      return Breach(*thief, b, "only the holder dispatches a lot", lot);
    }
    case 1: {  // a lot in a shipment, or consumed, or in transit, by its last holder
      std::vector<std::string> pool = snap_.shipment_lots;
      pool.insert(pool.end(), snap_.consumed_lots.begin(), snap_.consumed_lots.end());
      for (const auto& [to, lots] : snap_.transit_to)
        pool.insert(pool.end(), lots.begin(), lots.end());
      pool = Unclaimed(pool, claims_.lots);
      if (pool.empty()) return std::nullopt;
      std::string lot = Pick(pool);
      const v1::Lot& l = snap_.lots.at(lot);
      if (!l.shipment_id().empty()) {
        if (claims_.shipments.count(l.shipment_id())) return std::nullopt;
        claims_.shipments.insert(l.shipment_id());  // no cancel in this block
      }
      std::string last = !l.holder_key().empty()      ? l.holder_key()
                         : !l.dispatched_by().empty() ? l.dispatched_by()
                         : !l.processed_by().empty()  ? l.processed_by()
                                                      : l.producer_key();
      auto signer = ActorById(last);
      if (!signer) return std::nullopt;
      auto receiver = pick_receiver(*signer);
      if (!receiver) return std::nullopt;
      claims_.lots.insert(lot);
      a->add_lot_ids(lot);
      a->set_receiver_key(A(*receiver).id);
      return Breach(*signer, b, "a lot not held (in shipment, consumed or in transit) stays put",
                    lot);
    }
    case 2: {  // to itself
      auto h = pick_holder();
      if (!h) return std::nullopt;
      std::string lot = Pick(h->second);
      claims_.lots.insert(lot);
      a->add_lot_ids(lot);
      a->set_receiver_key(A(h->first).id);
      return Breach(h->first, b, "a holder cannot dispatch to itself", "");
    }
    case 3: {  // to a member that cannot receive lots
      auto h = pick_holder();
      if (!h) return std::nullopt;
      std::string lot = Pick(h->second);
      claims_.lots.insert(lot);
      a->add_lot_ids(lot);
      a->set_receiver_key(A(Pick(agents_)).id);
      return Breach(h->first, b, "lots go to a trader, processor, exporter or smelter", "");
    }
    case 4: {  // the same lot named twice
      auto h = pick_holder();
      if (!h) return std::nullopt;
      auto receiver = pick_receiver(h->first);
      if (!receiver) return std::nullopt;
      std::string lot = Pick(h->second);
      claims_.lots.insert(lot);
      a->add_lot_ids(lot);
      a->add_lot_ids(lot);
      a->set_receiver_key(A(*receiver).id);
      return Breach(h->first, b, "a lot is named once per transaction", lot);
    }
    default: {  // signed (offline) before the lot's previous event
      auto h = pick_holder();
      if (!h) return std::nullopt;
      auto receiver = pick_receiver(h->first);
      if (!receiver) return std::nullopt;
      std::string lot = Pick(h->second);
      claims_.lots.insert(lot);
      a->add_lot_ids(lot);
      a->set_receiver_key(A(*receiver).id);
      b.set_created_at_ms(snap_.lots.at(lot).last_device_time_ms() -
                          static_cast<int64_t>(U(1, kDayMs)));
      return Breach(h->first, b, "a lot's events never go back in time", lot);
    }
  }
}

std::optional<Planned> History::PlanReceiveLots(bool bad) {
  auto b = Body();
  auto* a = b.mutable_receive_lots();
  std::vector<std::string> receivers;
  for (const auto& [to, lots] : snap_.transit_to) {
    if (!Unclaimed(lots, claims_.lots).empty()) receivers.push_back(to);
  }
  if (receivers.empty()) return std::nullopt;
  std::string to = Pick(receivers);
  auto lots = Unclaimed(snap_.transit_to.at(to), claims_.lots);
  auto receiver = ActorById(to);
  if (!receiver) return std::nullopt;
  if (bad) {
    std::string lot = Pick(lots);
    auto other = PickOther(Receivers(), *receiver);
    if (!other) return std::nullopt;
    claims_.lots.insert(lot);
    auto* r = a->add_lots();
    r->set_lot_id(lot);
    r->set_weight_grams(snap_.lots.at(lot).dispatched_weight_grams());
    return Breach(*other, b, "only the named receiver receives a lot", lot);
  }
  if (!Active(*receiver)) return std::nullopt;
  Planned p = Plan(*receiver, b);
  for (const auto& lot : Sample(lots, U(1, 4))) {
    claims_.lots.insert(lot);
    uint64_t sent = snap_.lots.at(lot).dispatched_weight_grams();
    uint64_t permille = Chance(0.8) ? U(970, 1000) : Chance(0.5) ? U(1001, 1015) : U(1030, 1100);
    uint64_t found = std::clamp<uint64_t>(sent * permille / 1000, 1, kMaxLotWeightGrams);
    auto* r = p.body.mutable_receive_lots()->add_lots();
    r->set_lot_id(lot);
    r->set_weight_grams(found);
    p.receive_deltas.emplace_back(lot, static_cast<int64_t>(found) - static_cast<int64_t>(sent));
  }
  return p;
}

std::optional<Planned> History::PlanCancelDispatch(bool bad) {
  std::vector<std::string> senders;
  for (const auto& [from, lots] : snap_.transit_from) {
    if (!Unclaimed(lots, claims_.lots).empty()) senders.push_back(from);
  }
  if (senders.empty()) return std::nullopt;
  std::string from = Pick(senders);
  auto sender = ActorById(from);
  if (!sender || (!bad && !Active(*sender))) return std::nullopt;
  auto lots = Sample(Unclaimed(snap_.transit_from.at(from), claims_.lots), U(1, 3));
  auto b = Body();
  auto* a = b.mutable_cancel_dispatch();
  a->set_reason("buyer did not pay");
  for (const auto& lot : lots) {
    claims_.lots.insert(lot);
    a->add_lot_ids(lot);
  }
  if (bad) {
    auto other = PickOther(Dispatchers(), *sender);
    if (!other) return std::nullopt;
    return Breach(*other, b, "only the sender cancels a dispatch", lots.front());
  }
  return Plan(*sender, b);
}

std::optional<Planned> History::PlanRecordInspection(bool bad) {
  std::vector<std::string> sites;
  for (const auto& [id, s] : snap_.sites) {
    if (!claims_.sites_changed.count(id) && !claims_.sites_frozen.count(id)) sites.push_back(id);
  }
  if (sites.empty()) return std::nullopt;
  std::string site = Pick(sites);
  int64_t last = snap_.sites.at(site).last_inspection_ms();
  auto b = Body();
  auto* a = b.mutable_record_inspection();
  a->set_site_id(site);
  a->set_inspected_at_ms(std::max(last, now_ms_ - static_cast<int64_t>(U(0, kDayMs))));
  uint64_t r = U(0, 99);
  a->set_result(r < 70   ? v1::SITE_STATUS_GREEN
                : r < 92 ? v1::SITE_STATUS_YELLOW
                         : v1::SITE_STATUS_RED);
  a->set_inspector("joint mission " + std::to_string(++inspection_counter_));
  std::string hash(32, '\0');
  for (char& c : hash) c = static_cast<char>(U(0, 255));
  a->set_report_hash(hash);
  a->set_summary("visited the pits and the washing site");
  size_t regulator = Pick(regulators_);
  if (bad) {
    switch (U(0, 3)) {
      case 0:
        a->set_inspected_at_ms(last - static_cast<int64_t>(U(1, 30)) * kDayMs);
        return Breach(regulator, b, "an inspection is not before the last one", site);
      case 1:
        a->set_result(v1::SITE_STATUS_BLUE);
        return Breach(regulator, b, "an inspection finds green, yellow or red", "");
      case 2:
        a->set_report_hash(hash.substr(0, 31));
        return Breach(regulator, b, "the report hash is 32 bytes", "");
      default:
        return Breach(AnyActive(agents_), b, "only regulators record inspections", "");
    }
  }
  claims_.sites_changed.insert(site);
  return Plan(regulator, b);
}

std::optional<Planned> History::PlanSetSiteStatus(bool bad) {
  std::vector<std::string> sites;
  for (const auto& [id, s] : snap_.sites) {
    if (!claims_.sites_changed.count(id) && !claims_.sites_frozen.count(id)) sites.push_back(id);
  }
  if (sites.empty()) return std::nullopt;
  std::string site = Pick(sites);
  auto b = Body();
  auto* a = b.mutable_set_site_status();
  a->set_site_id(site);
  uint64_t r = U(0, 99);
  a->set_status(r < 60   ? v1::SITE_STATUS_GREEN
                : r < 88 ? v1::SITE_STATUS_YELLOW
                         : v1::SITE_STATUS_RED);
  a->set_reason("risk review of the site");
  size_t regulator = Pick(regulators_);
  if (bad) {
    switch (U(0, 2)) {
      case 0:
        a->set_status(v1::SITE_STATUS_BLUE);
        return Breach(regulator, b, "a regulator sets green, yellow or red", "");
      case 1:
        a->clear_reason();
        return Breach(regulator, b, "a site status change has a reason", "");
      default:
        return Breach(AnyActive(traders_), b, "only regulators set a site's status", "");
    }
  }
  claims_.sites_changed.insert(site);
  return Plan(regulator, b);
}

std::optional<Planned> History::PlanReportTags(bool bad) {
  auto b = Body();
  auto* a = b.mutable_report_tags();
  a->set_status(Chance(0.5) ? v1::TAG_STATUS_LOST : v1::TAG_STATUS_VOID);
  a->set_reason("torn during transport");
  std::vector<size_t> owners = agents_;
  owners.insert(owners.end(), processors_.begin(), processors_.end());
  auto owner = PickActive(owners);
  if (!owner) return std::nullopt;
  auto it = snap_.free_tags.find(A(*owner).id);
  std::vector<std::string> free;
  if (it != snap_.free_tags.end()) free = Unclaimed(it->second, claims_.tags);
  if (!bad) {
    if (free.empty()) return std::nullopt;
    for (const auto& t : Sample(free, U(1, 3))) {
      claims_.tags.insert(t);
      a->add_tag_ids(t);
    }
    return Plan(Chance(0.85) ? *owner : admin_, b);
  }
  switch (U(0, 3)) {
    case 0: {  // a used tag
      if (snap_.used_tags.empty()) return std::nullopt;
      std::string tag = Pick(snap_.used_tags);
      auto agent = ActorById(snap_.tags.at(tag).agent_key());
      if (!agent) return std::nullopt;
      a->add_tag_ids(tag);
      return Breach(*agent, b, "a used tag cannot be reported lost or void", tag);
    }
    case 1: {  // another agent's tag
      if (free.empty()) return std::nullopt;
      std::string tag = Pick(free);
      claims_.tags.insert(tag);
      auto other = PickOther(agents_, *owner);
      if (!other) return std::nullopt;
      a->add_tag_ids(tag);
      return Breach(*other, b, "only its agent or an administrator reports a tag", tag);
    }
    case 2: {  // a status other than lost or void
      if (free.empty()) return std::nullopt;
      std::string tag = Pick(free);
      claims_.tags.insert(tag);
      a->add_tag_ids(tag);
      a->set_status(v1::TAG_STATUS_USED);
      return Breach(*owner, b, "tags are reported lost or void only", "");
    }
    default: {  // a tag reported already
      if (snap_.dead_tags.empty()) return std::nullopt;
      std::string tag = Pick(snap_.dead_tags);
      a->add_tag_ids(tag);
      return Breach(admin_, b, "a tag is reported once", tag);
    }
  }
}

std::optional<Planned> History::PlanWithdrawOrRestore(bool withdraw, bool bad) {
  // Good: withdraw from a site that has its tags, restore one that has not; bad: the reverse.
  std::vector<std::string> sites;
  for (const auto& id : SitesWhere(withdraw == bad)) {
    if (!claims_.sites_changed.count(id) && !claims_.sites_frozen.count(id)) sites.push_back(id);
  }
  if (sites.empty()) return std::nullopt;
  if (withdraw && !bad && SitesWhere(true).size() >= 2) return std::nullopt;
  std::string site = Pick(sites);
  auto b = Body();
  if (withdraw) {
    b.mutable_withdraw_site_tags()->set_site_id(site);
    b.mutable_withdraw_site_tags()->set_reason("tags sold off site");
  } else {
    b.mutable_restore_site_tags()->set_site_id(site);
    b.mutable_restore_site_tags()->set_reason("new agent in place");
  }
  size_t signer = Chance(0.5) ? admin_ : Pick(regulators_);
  if (bad) {
    claims_.sites_frozen.insert(site);
    return Breach(
        signer, b,
        withdraw ? "a site's tags are withdrawn once" : "only withdrawn tags are restored", site);
  }
  claims_.sites_changed.insert(site);
  return Plan(signer, b);
}

std::optional<Planned> History::PlanProcessLots(bool bad) {
  auto proc = PickActive(processors_);
  if (!proc) return std::nullopt;
  const std::string& pid = A(*proc).id;
  std::map<v1::Mineral, std::vector<std::string>> by_mineral;
  if (auto it = snap_.held.find(pid); it != snap_.held.end()) {
    for (const auto& id : Unclaimed(it->second, claims_.lots)) {
      by_mineral[snap_.lots.at(id).mineral()].push_back(id);
    }
  }
  std::vector<std::string> tags;
  if (auto it = snap_.free_tags.find(pid); it != snap_.free_tags.end()) {
    tags = Unclaimed(it->second, claims_.tags);
  }
  if (by_mineral.empty() || tags.size() < 3) return std::nullopt;
  std::vector<v1::Mineral> minerals;
  for (const auto& [m, lots] : by_mineral) minerals.push_back(m);
  const auto& group = by_mineral.at(Pick(minerals));

  auto b = Body();
  auto* a = b.mutable_process_lots();
  a->set_note("washing and sorting");
  bool split = Chance(0.35);
  std::vector<std::string> inputs;
  uint64_t in_grams = 0;
  uint64_t contained = 0;  // weight x grade
  if (split) {
    for (const auto& id : group) {
      if (snap_.lots.at(id).weight_grams() >= 3) inputs.push_back(id);
    }
    if (inputs.empty()) return std::nullopt;
    inputs = {Pick(inputs)};
  } else {
    inputs = Sample(group, U(1, 5));
  }
  for (const auto& id : inputs) {
    const v1::Lot& l = snap_.lots.at(id);
    in_grams += l.weight_grams();
    contained += l.weight_grams() * l.grade_basis_points();
  }
  if (in_grams > kMaxLotWeightGrams / 2) return std::nullopt;
  uint64_t grade = in_grams == 0 ? 0 : contained / in_grams;
  size_t outputs = split ? U(2, 3) : U(1, 3);
  uint64_t out_grams =
      split ? in_grams : std::max<uint64_t>(outputs, in_grams * U(850, 1000) / 1000);
  a->set_kind(split ? v1::PROCESSING_KIND_SPLIT : v1::PROCESSING_KIND_MERGE);
  for (const auto& id : inputs) {
    a->add_input_lot_ids(id);
    claims_.lots.insert(id);
  }
  auto output_tags = Sample(tags, outputs);
  for (const auto& t : output_tags) claims_.tags.insert(t);
  auto fill = [&](uint64_t total) {
    if (total < outputs) return false;
    a->clear_outputs();
    auto weights = SplitWeight(total, outputs);
    for (size_t i = 0; i < outputs; ++i) {
      auto* o = a->add_outputs();
      o->set_tag_id(output_tags[i]);
      o->set_weight_grams(weights[i]);
      int64_t g = static_cast<int64_t>(grade) + static_cast<int64_t>(U(0, 200)) - 100;
      if (Chance(0.08)) g += 1500;  // upgraded beyond belief: a grade_jump anomaly
      o->set_grade_basis_points(static_cast<uint32_t>(std::clamp<int64_t>(g, 0, 10000)));
    }
    return true;
  };
  if (!fill(out_grams)) return std::nullopt;
  if (!bad) return Plan(*proc, b);

  switch (U(0, 7)) {
    case 0:  // outputs heavier than the inputs
      if (split) return std::nullopt;
      if (!fill(in_grams + U(1, in_grams / 20 + 1))) return std::nullopt;
      return Breach(*proc, b, "processing never creates mass (merge out <= in)", "");
    case 1:  // a split whose outputs do not add up to its input
      if (!split) return std::nullopt;
      if (!fill(Chance(0.5) ? in_grams + 1 : in_grams - U(1, in_grams / 10 + 1))) {
        return std::nullopt;
      }
      return Breach(*proc, b, "split outputs sum exactly to the input", "");
    case 2: {  // inputs of two minerals
      if (by_mineral.size() < 2) return std::nullopt;
      for (const auto& [m, lots] : by_mineral) {
        if (m == snap_.lots.at(inputs.front()).mineral()) continue;
        auto more = Unclaimed(lots, claims_.lots);
        if (more.empty()) return std::nullopt;
        a->set_kind(v1::PROCESSING_KIND_MERGE);
        a->add_input_lot_ids(more.front());
        claims_.lots.insert(more.front());
        return Breach(*proc, b, "processing inputs are of one mineral", "");
      }
      return std::nullopt;
    }
    case 3: {  // a mine tag on an output
      std::vector<std::string> mine_tags;
      for (size_t ag : agents_) {
        if (auto it = snap_.free_tags.find(A(ag).id); it != snap_.free_tags.end()) {
          mine_tags.insert(mine_tags.end(), it->second.begin(), it->second.end());
        }
      }
      if (mine_tags.empty()) return std::nullopt;
      std::string tag = Pick(mine_tags);
      a->mutable_outputs(0)->set_tag_id(tag);
      return Breach(*proc, b, "processing outputs carry processor tags", tag);
    }
    case 4: {  // another processor's tag (tag_off_agent)
      auto other = PickOther(processors_, *proc);
      if (!other) return std::nullopt;
      auto it = snap_.free_tags.find(A(*other).id);
      if (it == snap_.free_tags.end() || it->second.empty()) return std::nullopt;
      std::string tag = Pick(it->second);
      a->mutable_outputs(0)->set_tag_id(tag);
      return Breach(*proc, b, "a processor uses its own tags (tag_off_agent)", tag);
    }
    case 5: {  // an input held by someone else
      std::vector<std::string> others;
      for (const auto& [holder, lots] : snap_.held) {
        if (holder == pid) continue;
        for (const auto& id : Unclaimed(lots, claims_.lots)) {
          if (snap_.lots.at(id).mineral() == snap_.lots.at(inputs.front()).mineral()) {
            others.push_back(id);
          }
        }
      }
      if (others.empty() || split) return std::nullopt;
      std::string lot = Pick(others);
      claims_.lots.insert(lot);
      a->add_input_lot_ids(lot);
      return Breach(*proc, b, "a processor processes only lots it holds", lot);
    }
    case 6: {  // a consumed input
      auto consumed = Unclaimed(snap_.consumed_lots, claims_.lots);
      if (consumed.empty() || split) return std::nullopt;
      std::string lot = Pick(consumed);
      claims_.lots.insert(lot);
      a->add_input_lot_ids(lot);
      return Breach(*proc, b, "a consumed lot is never processed again", lot);
    }
    default: {  // a used processor tag on an output
      std::vector<std::string> used;
      for (const auto& t : snap_.used_tags) {
        if (snap_.tags.at(t).kind() == v1::TAG_KIND_PROCESSOR) used.push_back(t);
      }
      if (used.empty()) return std::nullopt;
      std::string tag = Pick(used);
      a->mutable_outputs(0)->set_tag_id(tag);
      return Breach(*proc, b, "a processor tag is used once", tag);
    }
  }
}

std::optional<Planned> History::PlanFormShipment(bool bad) {
  auto exporter = PickActive(exporters_);
  if (!exporter) return std::nullopt;
  std::map<v1::Mineral, std::vector<std::string>> by_mineral;
  if (auto it = snap_.held.find(A(*exporter).id); it != snap_.held.end()) {
    for (const auto& id : Unclaimed(it->second, claims_.lots)) {
      by_mineral[snap_.lots.at(id).mineral()].push_back(id);
    }
  }
  if (by_mineral.empty()) return std::nullopt;
  std::vector<v1::Mineral> minerals;
  for (const auto& [m, lots] : by_mineral) minerals.push_back(m);
  auto lots = Sample(by_mineral.at(Pick(minerals)), U(1, 6));
  auto b = Body();
  auto* a = b.mutable_form_shipment();
  a->set_shipment_id(Numbered("SHP-", static_cast<uint64_t>(++shipment_counter_), 5));
  a->set_destination_country(Chance(0.5) ? "MY" : "CN");
  a->set_note("container " + std::to_string(shipment_counter_));
  for (const auto& id : lots) {
    a->add_lot_ids(id);
    claims_.lots.insert(id);
  }
  if (!bad) return Plan(*exporter, b);
  switch (U(0, 3)) {
    case 0: {  // a shipment id in use
      if (shipments_.empty()) return std::nullopt;
      std::vector<std::string> ids;
      for (const auto& [id, s] : shipments_) ids.push_back(id);
      a->set_shipment_id(Pick(ids));
      return Breach(*exporter, b, "a shipment id is used once", a->shipment_id());
    }
    case 1: {  // a lot the exporter does not hold
      std::vector<std::string> others;
      for (const auto& [holder, held] : snap_.held) {
        if (holder != A(*exporter).id) {
          for (const auto& id : Unclaimed(held, claims_.lots)) others.push_back(id);
        }
      }
      if (others.empty()) return std::nullopt;
      std::string lot = Pick(others);
      claims_.lots.insert(lot);
      a->add_lot_ids(lot);
      return Breach(*exporter, b, "an exporter ships only lots it holds", lot);
    }
    case 2: {  // two minerals
      if (by_mineral.size() < 2) return std::nullopt;
      a->clear_lot_ids();
      for (const auto& [m, held] : by_mineral) {
        a->add_lot_ids(held.front());
        claims_.lots.insert(held.front());
      }
      return Breach(*exporter, b, "a shipment is of one mineral", "");
    }
    default:  // not an exporter
      return Breach(AnyActive(traders_), b, "only exporters form shipments", "");
  }
}

std::vector<std::string> History::Upstream(const std::vector<std::string>& lot_ids,
                                           std::vector<std::string>* problems) const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  std::vector<std::string> todo(lot_ids.begin(), lot_ids.end());
  while (!todo.empty()) {
    std::string id = todo.back();
    todo.pop_back();
    if (!seen.insert(id).second) continue;
    auto it = snap_.lots.find(id);
    if (it == snap_.lots.end()) {
      if (problems) problems->push_back("upstream lot '" + id + "' does not exist");
      continue;
    }
    out.push_back(id);
    for (const auto& parent : it->second.parent_lot_ids()) todo.push_back(parent);
  }
  return out;
}

History::Blockers History::ExportBlockers(const std::vector<std::string>& lot_ids,
                                          const std::string& exporter, int64_t time_ms,
                                          std::vector<std::string>* problems) const {
  std::map<std::pair<v1::IncidentSubjectKind, std::string>, std::vector<std::string>> open_l1;
  for (const auto& inc : incidents_) {
    if (inc.level == 1 && IncidentOpen(inc.status))
      open_l1[{inc.kind, inc.subject}].push_back(inc.id);
  }
  Blockers b;
  auto incident_on = [&](v1::IncidentSubjectKind kind, const std::string& id,
                         const std::string& what) {
    auto it = open_l1.find({kind, id});
    if (it == open_l1.end()) return;
    b.what.push_back("open level-1 incident " + it->second.front() + " on " + what + " '" + id +
                     "'");
    b.incidents.insert(b.incidents.end(), it->second.begin(), it->second.end());
  };
  std::set<std::string> sites;
  for (const auto& id : Upstream(lot_ids, problems)) {
    const v1::Lot& lot = snap_.lots.at(id);
    incident_on(v1::INCIDENT_SUBJECT_LOT, id, "lot");
    incident_on(v1::INCIDENT_SUBJECT_TAG, lot.tag_id(), "tag");
    if (lot.parent_lot_ids().empty()) sites.insert(lot.site_id());
  }
  for (const auto& site : sites) {
    incident_on(v1::INCIDENT_SUBJECT_SITE, site, "site");
    auto status = site_status_.find(site);
    if (status == site_status_.end()) {
      if (problems) problems->push_back("upstream site '" + site + "' was never registered");
      continue;
    }
    v1::MineSite model;
    model.set_status(status->second);
    model.set_last_inspection_ms(site_inspected_ms_.at(site));
    if (EffectiveSiteStatus(model, time_ms) == v1::SITE_STATUS_RED) {
      b.what.push_back("upstream site '" + site + "' is red");
      b.sites.push_back(site);
    }
  }
  incident_on(v1::INCIDENT_SUBJECT_MEMBER, Hex(exporter), "exporter");
  if (auto it = audit_.find(exporter); it != audit_.end() && it->second == v1::AUDIT_FLAG_RED) {
    b.what.push_back("the exporter's audit flag is red");
  }
  return b;
}

bool History::FreezeBlockers(const Blockers& b, const std::string& exporter) {
  for (const auto& inc : b.incidents) {
    if (claims_.incidents.count(inc)) return false;
  }
  for (const auto& site : b.sites) {
    if (claims_.sites_changed.count(site)) return false;
  }
  if (claims_.members_changed.count(exporter)) return false;
  claims_.incidents.insert(b.incidents.begin(), b.incidents.end());
  claims_.sites_frozen.insert(b.sites.begin(), b.sites.end());
  claims_.members_frozen.insert(exporter);
  return true;
}

std::optional<Planned> History::PlanReviewShipment(bool bad) {
  auto b = Body();
  auto* a = b.mutable_review_shipment();
  auto issue = [&]() {
    a->set_issue(true);
    a->set_certificate_number(
        Numbered("ICGLR-CD-", static_cast<uint64_t>(++certificate_counter_), 6));
    a->set_certificate_date_ms(now_ms_ - static_cast<int64_t>(U(0, kDayMs)));
  };
  if (bad) {
    switch (U(0, 4)) {
      case 0: {  // the exporter certifies its own shipment
        std::vector<std::string> own;
        for (const auto& id : ShipmentsIn({v1::SHIPMENT_STATUS_FORMED})) {
          auto e = ActorById(shipments_.at(id).exporter);
          if (e && A(*e).Has(v1::ROLE_CERTIFIER)) own.push_back(id);
        }
        if (own.empty()) return std::nullopt;
        std::string id = Pick(own);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        issue();
        return Breach(*ActorById(shipments_.at(id).exporter), b,
                      "a certifier never certifies its own shipment", id);
      }
      case 1: {  // a certificate number issued before
        if (certificate_numbers_.empty()) return std::nullopt;
        auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED});
        if (pending.empty()) return std::nullopt;
        std::string id = Pick(pending);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        issue();
        std::vector<std::string> numbers(certificate_numbers_.begin(), certificate_numbers_.end());
        a->set_certificate_number(Pick(numbers));
        auto certifier = PickOther(certifiers_, *ActorById(shipments_.at(id).exporter));
        if (!certifier) return std::nullopt;
        return Breach(*certifier, b, "a certificate number is issued once",
                      a->certificate_number());
      }
      case 2: {  // not a certifier
        auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED});
        if (pending.empty()) return std::nullopt;
        std::string id = Pick(pending);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        issue();
        return Breach(AnyActive(regulators_), b, "only certifiers review shipments", "");
      }
      case 3: {  // a shipment past review
        auto past = ShipmentsIn({v1::SHIPMENT_STATUS_CERTIFIED, v1::SHIPMENT_STATUS_DISPATCHED,
                                 v1::SHIPMENT_STATUS_RECEIVED, v1::SHIPMENT_STATUS_CANCELLED});
        if (past.empty()) return std::nullopt;
        std::string id = Pick(past);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        issue();
        return Breach(AnyActive(certifiers_), b, "only a formed or refused shipment is reviewed",
                      id);
      }
      default: {  // a refusal without its reason
        auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED});
        if (pending.empty()) return std::nullopt;
        std::string id = Pick(pending);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        a->set_issue(false);
        return Breach(AnyActive(certifiers_), b, "a refused certificate says why", "");
      }
    }
  }
  auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED, v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED});
  if (pending.empty()) return std::nullopt;
  std::string id = Pick(pending);
  const ShipmentModel& s = shipments_.at(id);
  std::vector<size_t> certifiers;
  for (size_t c : certifiers_) {
    if (A(c).id != s.exporter && Active(c)) certifiers.push_back(c);
  }
  if (certifiers.empty()) return std::nullopt;
  claims_.shipments.insert(id);
  a->set_shipment_id(id);
  size_t certifier = Pick(certifiers);
  if (Chance(0.2)) {
    a->set_issue(false);
    a->set_reason("the chain of custody needs the processor's records");
    return Plan(certifier, b);
  }
  issue();
  Blockers blockers = ExportBlockers(s.lots, s.exporter, now_ms_, nullptr);
  if (!blockers.what.empty() && FreezeBlockers(blockers, s.exporter)) {
    return Breach(certifier, b, "no certificate while " + blockers.what.front(), id);
  }
  return Plan(certifier, b);
}

std::optional<Planned> History::PlanDispatchShipment(bool bad) {
  auto b = Body();
  auto* a = b.mutable_dispatch_shipment();
  auto smelter = PickActive(smelters_);
  if (!smelter) return std::nullopt;
  a->set_smelter_key(A(*smelter).id);
  if (bad) {
    switch (U(0, 2)) {
      case 0: {  // without a certificate
        auto uncertified =
            ShipmentsIn({v1::SHIPMENT_STATUS_FORMED, v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED});
        if (uncertified.empty()) return std::nullopt;
        std::string id = Pick(uncertified);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        auto e = ActorById(shipments_.at(id).exporter);
        return Breach(*e, b, "a shipment leaves only with its certificate", id);
      }
      case 1: {  // to a member that is not a smelter
        auto certified = ShipmentsIn({v1::SHIPMENT_STATUS_CERTIFIED});
        if (certified.empty()) return std::nullopt;
        std::string id = Pick(certified);
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        a->set_smelter_key(A(Pick(traders_)).id);
        auto e = ActorById(shipments_.at(id).exporter);
        return Breach(*e, b, "shipments go to smelters", "");
      }
      default: {  // by another exporter
        auto certified = ShipmentsIn({v1::SHIPMENT_STATUS_CERTIFIED});
        if (certified.empty()) return std::nullopt;
        std::string id = Pick(certified);
        auto other = PickOther(exporters_, *ActorById(shipments_.at(id).exporter));
        if (!other) return std::nullopt;
        claims_.shipments.insert(id);
        a->set_shipment_id(id);
        return Breach(*other, b, "only its exporter dispatches a shipment", id);
      }
    }
  }
  auto certified = ShipmentsIn({v1::SHIPMENT_STATUS_CERTIFIED});
  if (certified.empty()) return std::nullopt;
  std::string id = Pick(certified);
  const ShipmentModel& s = shipments_.at(id);
  auto exporter = ActorById(s.exporter);
  if (!exporter || !Active(*exporter)) return std::nullopt;
  claims_.shipments.insert(id);
  a->set_shipment_id(id);
  Blockers blockers = ExportBlockers(s.lots, s.exporter, now_ms_, nullptr);
  if (!blockers.what.empty() && FreezeBlockers(blockers, s.exporter)) {
    return Breach(*exporter, b, "no dispatch while " + blockers.what.front(), id);
  }
  return Plan(*exporter, b);
}

std::optional<Planned> History::PlanReceiveShipment(bool bad) {
  auto b = Body();
  auto* a = b.mutable_receive_shipment();
  if (bad && Chance(0.5)) {  // a shipment not dispatched
    auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED, v1::SHIPMENT_STATUS_CERTIFIED});
    if (pending.empty()) return std::nullopt;
    std::string id = Pick(pending);
    claims_.shipments.insert(id);
    a->set_shipment_id(id);
    a->set_weight_grams(shipments_.at(id).weight_grams);
    return Breach(AnyActive(smelters_), b, "a smelter receives only a dispatched shipment", id);
  }
  auto dispatched = ShipmentsIn({v1::SHIPMENT_STATUS_DISPATCHED});
  if (dispatched.empty()) return std::nullopt;
  std::string id = Pick(dispatched);
  const ShipmentModel& s = shipments_.at(id);
  auto smelter = ActorById(s.smelter);
  if (!smelter) return std::nullopt;
  claims_.shipments.insert(id);
  a->set_shipment_id(id);
  uint64_t permille = Chance(0.85) ? U(985, 1010) : U(900, 960);
  a->set_weight_grams(std::max<uint64_t>(1, s.weight_grams * permille / 1000));
  if (bad) {
    auto other = PickOther(smelters_, *smelter);
    if (!other) return std::nullopt;
    return Breach(*other, b, "only the named smelter receives a shipment", id);
  }
  return Plan(*smelter, b);
}

std::optional<Planned> History::PlanCancelShipment(bool bad) {
  auto b = Body();
  auto* a = b.mutable_cancel_shipment();
  a->set_reason("buyer withdrew");
  if (bad && Chance(0.5)) {  // a shipment already gone
    auto gone = ShipmentsIn({v1::SHIPMENT_STATUS_DISPATCHED, v1::SHIPMENT_STATUS_RECEIVED,
                             v1::SHIPMENT_STATUS_CANCELLED});
    if (gone.empty()) return std::nullopt;
    std::string id = Pick(gone);
    claims_.shipments.insert(id);
    a->set_shipment_id(id);
    return Breach(*ActorById(shipments_.at(id).exporter), b,
                  "only a shipment not yet dispatched is cancelled", id);
  }
  auto pending = ShipmentsIn({v1::SHIPMENT_STATUS_FORMED, v1::SHIPMENT_STATUS_CERTIFIED,
                              v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED});
  if (pending.empty()) return std::nullopt;
  std::string id = Pick(pending);
  auto exporter = ActorById(shipments_.at(id).exporter);
  claims_.shipments.insert(id);
  a->set_shipment_id(id);
  if (bad) {
    if (Chance(0.5)) {
      a->clear_reason();
      return Breach(*exporter, b, "a cancellation says why", "");
    }
    auto other = PickOther(exporters_, *exporter);
    if (!other) return std::nullopt;
    return Breach(*other, b, "only its exporter cancels a shipment", id);
  }
  return Plan(*exporter, b);
}

std::optional<Planned> History::PlanReportIncident(bool bad) {
  auto b = Body();
  auto* a = b.mutable_report_incident();
  a->set_category(static_cast<v1::IncidentCategory>(U(1, 16)));
  uint64_t r = U(0, 99);
  a->set_level(r < 25 ? 1 : r < 60 ? 2 : 3);
  a->set_description("reported by the field team");
  a->set_source(static_cast<v1::IncidentSource>(U(0, 5)));
  if (a->source() == v1::INCIDENT_SOURCE_ANOMALY) a->set_source(v1::INCIDENT_SOURCE_HOTLINE);
  if (Chance(0.5)) a->set_occurred_at_ms(now_ms_ - static_cast<int64_t>(U(0, 30 * kDayMs)));
  // Subjects lean towards what is upstream of pending shipments, so exports get blocked.
  std::vector<std::string> upstream;
  for (const auto& [id, s] : shipments_) {
    if (ShipmentPending(s.status)) {
      for (const auto& lot : Upstream(s.lots, nullptr)) upstream.push_back(lot);
    }
  }
  uint64_t k = U(0, 99);
  if (k < 25 || (k < 60 && upstream.empty() && snap_.lots.empty())) {
    std::vector<std::string> sites;
    for (const auto& [id, s] : snap_.sites) sites.push_back(id);
    a->set_subject_kind(v1::INCIDENT_SUBJECT_SITE);
    a->set_subject_id(Pick(sites));
  } else if (k < 60) {
    std::string lot;
    if (!upstream.empty() && Chance(0.7)) {
      lot = Pick(upstream);
    } else if (!snap_.lots.empty()) {
      auto it = snap_.lots.begin();
      std::advance(it, static_cast<long>(U(0, snap_.lots.size() - 1)));
      lot = it->first;
    } else {
      return std::nullopt;
    }
    a->set_subject_kind(v1::INCIDENT_SUBJECT_LOT);
    a->set_subject_id(lot);
  } else if (k < 72) {
    a->set_subject_kind(v1::INCIDENT_SUBJECT_MEMBER);
    a->set_subject_id(Hex(A(Pick(Chance(0.5) ? exporters_ : traders_)).id));
    // An exporter under a level-1 incident blocks all its exports: keep those rarer.
    if (a->level() == 1 && Chance(0.6)) a->set_level(2);
  } else {
    std::string tag;
    if (!upstream.empty() && Chance(0.7)) {
      tag = snap_.lots.at(Pick(upstream)).tag_id();
    } else if (!snap_.tags.empty()) {
      auto it = snap_.tags.begin();
      std::advance(it, static_cast<long>(U(0, snap_.tags.size() - 1)));
      tag = it->first;
    } else {
      return std::nullopt;
    }
    a->set_subject_kind(v1::INCIDENT_SUBJECT_TAG);
    a->set_subject_id(tag);
  }
  if (!bad && flags_raised_ > 0 && Chance(0.05)) {  // opened from a flag (FLG ids by order)
    std::string flag = Numbered("FLG-", U(1, flags_raised_), 9);
    a->set_flag_id(flag);
    a->set_source(v1::INCIDENT_SOURCE_ANOMALY);
  }
  std::vector<size_t> everyone(registered_.begin(), registered_.end());
  if (!bad) {
    auto reporter = PickActive(everyone);
    if (!reporter) return std::nullopt;
    return Plan(*reporter, b);
  }
  size_t reporter = Pick(regulators_);
  switch (U(0, 4)) {
    case 0:
      if (a->subject_kind() == v1::INCIDENT_SUBJECT_MEMBER) {  // a key never registered
        a->set_subject_id(Hex(std::string(32, 'k')));
      } else {
        a->set_subject_id(a->subject_id() + "-NOPE");
      }
      return Breach(reporter, b, "an incident's subject exists", a->subject_id());
    case 1:
      a->set_level(Chance(0.5) ? 0 : 4);
      return Breach(reporter, b, "an incident's level is 1 to 3", "");
    case 2:
      a->set_category(v1::INCIDENT_CATEGORY_UNSPECIFIED);
      return Breach(reporter, b, "an incident has a category", "");
    case 3:
      a->clear_description();
      return Breach(reporter, b, "an incident has a description", "");
    default: {  // a suspended member reports
      std::vector<size_t> suspended;
      for (size_t i : registered_) {
        if (!Active(i) && !claims_.members_changed.count(A(i).id)) suspended.push_back(i);
      }
      if (suspended.empty()) return std::nullopt;
      size_t who = Pick(suspended);
      claims_.members_frozen.insert(A(who).id);
      return Breach(who, b, kSuspendedActs, "");
    }
  }
}

std::optional<Planned> History::PlanUpdateIncident(bool bad) {
  std::vector<size_t> open, l1_open, closed, later;
  for (size_t i = 0; i < incidents_.size(); ++i) {
    const auto& inc = incidents_[i];
    if (claims_.incidents.count(inc.id)) continue;
    if (inc.status == v1::INCIDENT_STATUS_CLOSED) {
      closed.push_back(i);
      continue;
    }
    open.push_back(i);
    if (inc.level == 1 && IncidentOpen(inc.status)) l1_open.push_back(i);
    if (inc.status != v1::INCIDENT_STATUS_OPEN) later.push_back(i);
  }
  if (open.empty()) return std::nullopt;
  size_t idx = (!l1_open.empty() && Chance(0.6)) ? Pick(l1_open) : Pick(open);
  auto b = Body();
  auto* a = b.mutable_update_incident();
  size_t regulator = Pick(regulators_);
  auto claim = [&](size_t i) {
    claims_.incidents.insert(incidents_[i].id);
    a->set_incident_id(incidents_[i].id);
  };
  if (bad) {
    switch (U(0, 5)) {
      case 0: {  // back to an earlier status
        if (later.empty()) return std::nullopt;
        size_t i = Pick(later);
        claim(i);
        a->set_status(v1::INCIDENT_STATUS_OPEN);
        return Breach(regulator, b, "an incident's status only moves forward", incidents_[i].id);
      }
      case 1:  // closed before it was resolved
        if (incidents_[idx].status == v1::INCIDENT_STATUS_RESOLVED) return std::nullopt;
        claim(idx);
        a->set_status(v1::INCIDENT_STATUS_CLOSED);
        return Breach(regulator, b, "an incident is closed only once resolved", incidents_[idx].id);
      case 2: {  // a status change by someone who is not a regulator
        std::vector<size_t> others;
        for (size_t i : registered_) {
          if (!A(i).Has(v1::ROLE_REGULATOR)) others.push_back(i);
        }
        claim(idx);
        a->set_status(v1::INCIDENT_STATUS_UNDER_MITIGATION);
        if (incidents_[idx].status != v1::INCIDENT_STATUS_OPEN) {
          a->set_status(v1::INCIDENT_STATUS_RESOLVED);
          a->set_outcome(v1::INCIDENT_OUTCOME_MITIGATED);
        }
        return Breach(AnyActive(others), b, "only regulators move an incident along", "");
      }
      case 3: {  // any change to a closed incident
        if (closed.empty()) return std::nullopt;
        size_t i = Pick(closed);
        claim(i);
        a->set_note("one more thing");
        return Breach(regulator, b, "a closed incident never changes", incidents_[i].id);
      }
      case 4:  // resolved without an outcome
        if (incidents_[idx].status == v1::INCIDENT_STATUS_RESOLVED) return std::nullopt;
        claim(idx);
        a->set_status(v1::INCIDENT_STATUS_RESOLVED);
        return Breach(regulator, b, "a resolved incident has an outcome", "");
      default:  // nothing to change
        claim(idx);
        return Breach(regulator, b, "an update changes something or adds a note", "");
    }
  }
  claim(idx);
  const IncidentModel& inc = incidents_[idx];
  uint64_t r = U(0, 99);
  if (r < 10) {  // a note by anyone
    std::vector<size_t> everyone(registered_.begin(), registered_.end());
    auto who = PickActive(everyone);
    if (!who) return std::nullopt;
    a->set_note("seen on the road to the site");
    return Plan(*who, b);
  }
  if (r < 25) {  // reclassified
    a->set_level(inc.level == 1 ? 2 : 1);
    if (Chance(0.5)) {  // another category
      a->set_category(static_cast<v1::IncidentCategory>((inc.category % 16) + U(1, 15)));
      if (a->category() > 16)
        a->set_category(static_cast<v1::IncidentCategory>(a->category() - 16));
    }
    return Plan(regulator, b);
  }
  switch (inc.status) {
    case v1::INCIDENT_STATUS_OPEN:
      if (Chance(0.5)) {
        a->set_status(v1::INCIDENT_STATUS_UNDER_MITIGATION);
        break;
      }
      [[fallthrough]];
    case v1::INCIDENT_STATUS_UNDER_MITIGATION:
      a->set_status(v1::INCIDENT_STATUS_RESOLVED);
      a->set_outcome(static_cast<v1::IncidentOutcome>(U(1, 5)));
      break;
    default:
      a->set_status(v1::INCIDENT_STATUS_CLOSED);
      break;
  }
  if (Chance(0.5)) a->set_note("mission report filed");
  return Plan(regulator, b);
}

std::optional<Planned> History::PlanSetAuditFlag(bool bad) {
  auto b = Body();
  auto* a = b.mutable_set_audit_flag();
  uint64_t r = U(0, 99);
  a->set_flag(r < 60 ? v1::AUDIT_FLAG_GREEN : r < 85 ? v1::AUDIT_FLAG_YELLOW : v1::AUDIT_FLAG_RED);
  a->set_reason("annual audit");
  size_t regulator = Pick(regulators_);
  if (bad) {
    switch (U(0, 2)) {
      case 0:
        a->set_member_key(A(Pick(traders_)).id);
        return Breach(regulator, b, "audit flags are for exporters", "");
      case 1:
        a->set_member_key(A(Pick(exporters_)).id);
        return Breach(AnyActive(certifiers_), b, "only regulators set audit flags", "");
      default:
        a->set_member_key(A(Pick(exporters_)).id);
        a->set_flag(v1::AUDIT_FLAG_UNSPECIFIED);
        return Breach(regulator, b, "an audit flag is green, yellow or red", "");
    }
  }
  std::vector<size_t> exporters;
  for (size_t e : exporters_) {
    if (!claims_.members_frozen.count(A(e).id) && !claims_.members_changed.count(A(e).id)) {
      exporters.push_back(e);
    }
  }
  if (exporters.empty()) return std::nullopt;
  size_t e = Pick(exporters);
  // Red flags are lifted sooner than they are raised, so exports keep flowing.
  if (audit_[A(e).id] == v1::AUDIT_FLAG_RED && Chance(0.7)) a->set_flag(v1::AUDIT_FLAG_GREEN);
  claims_.members_changed.insert(A(e).id);
  a->set_member_key(A(e).id);
  return Plan(regulator, b);
}

// ---------------------------------------------------------------------------------------
// Reading the ledger

Result<void> History::ReadSnapshot() {
  Snapshot s;
  auto head = ledger_->head();
  s.height = head.height();
  s.time_ms = head.block_time_ms();
  std::string token;
  do {
    auto page = ledger_->ListLots(LotFilter{}, token, 1000);
    if (!page) return tl::unexpected(page.error());
    for (auto& lot : page->items) {
      std::string id = lot.lot_id();
      s.lots.emplace(std::move(id), std::move(lot));
    }
    token = page->next_page_token;
  } while (!token.empty());
  token.clear();
  do {
    auto page = ledger_->ListMineSites("", token, 1000);
    if (!page) return tl::unexpected(page.error());
    for (auto& site : page->items) {
      std::string id = site.site_id();
      s.sites.emplace(std::move(id), std::move(site));
    }
    token = page->next_page_token;
  } while (!token.empty());
  for (const auto& id : tag_ids_) {
    auto tag = ledger_->GetTag(id);
    if (!tag) return tl::unexpected(tag.error());
    if (tag->has_value()) s.tags.emplace(id, std::move(**tag));
  }
  for (size_t i : registered_) {
    auto m = ledger_->GetMember(A(i).id);
    if (!m) return tl::unexpected(m.error());
    if (m->has_value()) s.members.emplace(A(i).id, std::move(**m));
  }
  for (const auto& [id, lot] : s.lots) {
    switch (lot.status()) {
      case v1::LOT_STATUS_HELD:
        s.held[lot.holder_key()].push_back(id);
        break;
      case v1::LOT_STATUS_IN_TRANSIT:
        s.transit_to[lot.dispatched_to()].push_back(id);
        s.transit_from[lot.dispatched_by()].push_back(id);
        break;
      case v1::LOT_STATUS_CONSUMED:
        s.consumed_lots.push_back(id);
        break;
      case v1::LOT_STATUS_IN_SHIPMENT:
        s.shipment_lots.push_back(id);
        break;
      default:
        break;
    }
  }
  for (const auto& [id, tag] : s.tags) {
    bool withdrawn = tag.status() == v1::TAG_STATUS_WITHDRAWN;
    if (tag.kind() == v1::TAG_KIND_MINE && tag.status() == v1::TAG_STATUS_ALLOCATED) {
      auto site = s.sites.find(tag.site_id());
      withdrawn = site != s.sites.end() && site->second.tags_withdrawn_height() > 0 &&
                  tag.allocated_height() <= site->second.tags_withdrawn_height();
    }
    if (withdrawn) {
      s.withdrawn_tags.push_back(id);
    } else if (tag.status() == v1::TAG_STATUS_ALLOCATED) {
      s.free_tags[tag.agent_key()].push_back(id);
    } else if (tag.status() == v1::TAG_STATUS_USED) {
      s.used_tags.push_back(id);
    } else {
      s.dead_tags.push_back(id);
    }
  }
  snap_ = std::move(s);
  return {};
}

// ---------------------------------------------------------------------------------------
// Running a block and replaying its receipts

void History::RunBlock(std::vector<Planned> plan) {
  std::vector<v1::SignedTx> txs;
  std::map<Hash32, size_t> by_id;
  for (size_t i = 0; i < plan.size(); ++i) {
    auto tx = proof::SignTxWithAux(plan[i].body, A(plan[i].signer).key, Hash32{});
    by_id[proof::TxId(tx)] = i;
    txs.push_back(std::move(tx));
  }
  BlockToExecute block;
  block.height = ledger_->head().height() + 1;
  height_ = block.height;
  block.round = block.height;
  block.time_ms = now_ms_;
  block.proposer_key = std::string(validator_.public_key().begin(), validator_.public_key().end());
  block.txs = std::move(txs);
  auto committed = ledger_->ExecuteAndCommit(
      block, validator_, [](const Hash32&, const v1::SignedTx&) { return false; });
  if (!committed) {
    Violation("block did not commit: " + committed.error().ToString());
    return;
  }
  for (const auto& skipped : committed->skipped) {
    Violation("a planned tx was skipped: " + skipped.reason);
  }
  // Replay against the models with the state of the block's start (every lot a tx names
  // existed then, and a lot's parents never change), then read the state after it.
  for (size_t i = 0; i < committed->txs.size(); ++i) {
    const TxRecord& rec = committed->txs[i];
    auto it = by_id.find(rec.tx_id);
    MT_ASSERT(it != by_id.end());
    Apply(plan[it->second], rec.receipt, i);
  }
  out_.txs += static_cast<int>(committed->txs.size());
  auto read = ReadSnapshot();
  if (!read) {
    Violation("reading the ledger failed: " + read.error().ToString());
    return;
  }
  CheckState();
}

void History::Apply(const Planned& p, const v1::Receipt& r, size_t index) {
  const v1::TxBody& body = p.body;
  Case action = body.action_case();
  Count& count = out_.counts[action];
  const bool ok = r.status() == v1::TX_STATUS_OK;
  (ok ? count.ok : count.failed)++;
  for (const auto& an : r.anomalies()) {
    out_.anomalies[an.kind() + (ok ? "" : " (refused tx)")]++;
    ++flags_raised_;
    flag_lots_[Numbered("FLG-", flags_raised_, 9)] = an.lot_id();
  }
  std::string where = ActionName(action) + " (tx " + std::to_string(index) + " of block " +
                      std::to_string(r.height()) + ", signer " + A(p.signer).name + ")";
  if (p.must_fail) {
    count.breaches++;
    std::string why = p.why.substr(0, p.why.find(" '"));
    out_.breaches[ActionName(action) + ": " + why]++;
    if (ok) {
      std::string text = body.ShortDebugString();
      if (text.size() > 400) text = text.substr(0, 400) + "...";
      Violation("rule not enforced: " + p.why + " -- " + where + " committed OK: " + text);
    } else {
      // Refused for the rule it breaks: the reason names what is wrong (house rule: a
      // refusal names the lot, tag, site or shipment), and a tag used off its site or agent
      // is flagged as well as refused.
      if (!p.mention.empty() && r.reason().find(p.mention) == std::string::npos) {
        Violation(where + " (" + p.why + ") was refused with a reason that does not name '" +
                  p.mention + "': " + r.reason());
      }
      for (const char* kind : {"tag_off_agent", "tag_off_site"}) {
        bool flagged = std::any_of(r.anomalies().begin(), r.anomalies().end(),
                                   [&](const v1::Anomaly& an) { return an.kind() == kind; });
        if (p.why.find(kind) != std::string::npos && !flagged) {
          Violation(where + " (" + p.why + ") was refused without a " + kind +
                    " flag: " + r.reason());
        }
      }
    }
  } else if (!ok) {
    std::string reason = r.reason().substr(0, 70);
    out_.refusals_of_valid[ActionName(action) + ": " + r.error_code() + ": " + reason]++;
  }
  if (!ok) return;

  switch (action) {
    case v1::TxBody::kRegisterMember: {
      auto who = ActorById(body.register_member().member_key());
      if (!who) break;
      registered_.insert(*who);
      unregistered_.erase(std::remove(unregistered_.begin(), unregistered_.end(), *who),
                          unregistered_.end());
      const Actor& a = A(*who);
      auto add = [&](v1::Role role, std::vector<size_t>& list) {
        if (a.Has(role)) list.push_back(*who);
      };
      add(v1::ROLE_REGULATOR, regulators_);
      add(v1::ROLE_CERTIFIER, certifiers_);
      add(v1::ROLE_AGENT, agents_);
      add(v1::ROLE_COOPERATIVE, coops_);
      add(v1::ROLE_TRADER, traders_);
      add(v1::ROLE_PROCESSOR, processors_);
      add(v1::ROLE_EXPORTER, exporters_);
      add(v1::ROLE_SMELTER, smelters_);
      break;
    }
    case v1::TxBody::kRegisterMineSite:
      site_status_[body.register_mine_site().site_id()] = body.register_mine_site().status();
      site_inspected_ms_[body.register_mine_site().site_id()] = r.block_time_ms();
      break;
    case v1::TxBody::kRecordInspection:
      site_status_[body.record_inspection().site_id()] = body.record_inspection().result();
      site_inspected_ms_[body.record_inspection().site_id()] =
          body.record_inspection().inspected_at_ms();
      break;
    case v1::TxBody::kSetSiteStatus:
      site_status_[body.set_site_status().site_id()] = body.set_site_status().status();
      break;
    case v1::TxBody::kAllocateTags: {
      const auto& a = body.allocate_tags();
      allocated_ranges_[a.prefix()].emplace_back(a.first(), a.count());
      for (uint64_t n = a.first(); n < a.first() + a.count(); ++n) {
        tag_ids_.push_back(Numbered(a.prefix(), n, 7));
      }
      break;
    }
    case v1::TxBody::kRecordMineLot: {
      const auto& a = body.record_mine_lot();
      mine_weight_[a.tag_id()] = a.weight_grams();
      auto& b = Balance(a.producer_key());
      b.set_produced_grams(b.produced_grams() + a.weight_grams());
      break;
    }
    case v1::TxBody::kDispatchLots: {
      auto& b = Balance(r.signer());
      for (const auto& id : body.dispatch_lots().lot_ids()) {
        b.set_dispatched_grams(b.dispatched_grams() + snap_.lots.at(id).weight_grams());
      }
      break;
    }
    case v1::TxBody::kCancelDispatch: {
      auto& b = Balance(r.signer());
      for (const auto& id : body.cancel_dispatch().lot_ids()) {
        b.set_dispatched_grams(b.dispatched_grams() - snap_.lots.at(id).dispatched_weight_grams());
      }
      break;
    }
    case v1::TxBody::kReceiveLots:
      for (const auto& [lot, delta] : p.receive_deltas) {
        receive_net_grams_ += delta;
        if (delta > 0) receive_gain_grams_ += delta;
      }
      for (const auto& received : body.receive_lots().lots()) {
        auto& b = Balance(r.signer());
        b.set_received_grams(b.received_grams() + received.weight_grams());
      }
      break;
    case v1::TxBody::kProcessLots: {
      uint64_t in = 0;
      uint64_t out = 0;
      for (const auto& id : body.process_lots().input_lot_ids())
        in += snap_.lots.at(id).weight_grams();
      for (const auto& o : body.process_lots().outputs()) out += o.weight_grams();
      auto& b = Balance(r.signer());
      b.set_processing_input_grams(b.processing_input_grams() + in);
      b.set_processing_output_grams(b.processing_output_grams() + out);
      b.set_processing_loss_grams(b.processing_loss_grams() + in - out);
      break;
    }
    case v1::TxBody::kFormShipment: {
      const auto& a = body.form_shipment();
      ShipmentModel s;
      s.exporter = r.signer();
      s.lots.assign(a.lot_ids().begin(), a.lot_ids().end());
      for (const auto& id : s.lots) {
        if (auto it = snap_.lots.find(id); it != snap_.lots.end()) {
          s.weight_grams += it->second.weight_grams();
        }
      }
      if (shipments_.count(a.shipment_id())) {
        Violation("shipment '" + a.shipment_id() + "' was formed twice");
      }
      shipments_[a.shipment_id()] = std::move(s);
      touched_shipments_.insert(a.shipment_id());
      break;
    }
    case v1::TxBody::kReviewShipment: {
      const auto& a = body.review_shipment();
      auto it = shipments_.find(a.shipment_id());
      if (it == shipments_.end()) {
        Violation("reviewed shipment '" + a.shipment_id() + "' was never formed");
        break;
      }
      if (it->second.status != v1::SHIPMENT_STATUS_FORMED &&
          it->second.status != v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED) {
        Violation("shipment '" + a.shipment_id() + "' was reviewed in status " +
                  v1::ShipmentStatus_Name(it->second.status));
      }
      if (a.issue()) {
        CheckExportEvent(a.shipment_id(), r.signer(), false, r, index);
        if (!certificate_numbers_.insert(a.certificate_number()).second) {
          Violation("certificate number " + a.certificate_number() + " was issued twice");
        }
        it->second.status = v1::SHIPMENT_STATUS_CERTIFIED;
      } else {
        it->second.status = v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED;
      }
      break;
    }
    case v1::TxBody::kDispatchShipment: {
      const auto& a = body.dispatch_shipment();
      auto it = shipments_.find(a.shipment_id());
      if (it == shipments_.end()) {
        Violation("dispatched shipment '" + a.shipment_id() + "' was never formed");
        break;
      }
      CheckExportEvent(a.shipment_id(), r.signer(), true, r, index);
      touched_shipments_.insert(a.shipment_id());
      it->second.status = v1::SHIPMENT_STATUS_DISPATCHED;
      it->second.smelter = a.smelter_key();
      auto& b = Balance(it->second.exporter);
      b.set_exported_grams(b.exported_grams() + it->second.weight_grams);
      break;
    }
    case v1::TxBody::kReceiveShipment: {
      auto it = shipments_.find(body.receive_shipment().shipment_id());
      if (it == shipments_.end() || it->second.status != v1::SHIPMENT_STATUS_DISPATCHED ||
          it->second.smelter != r.signer()) {
        Violation("shipment '" + body.receive_shipment().shipment_id() +
                  "' was received but was not dispatched to the signer");
        break;
      }
      it->second.status = v1::SHIPMENT_STATUS_RECEIVED;
      auto& b = Balance(r.signer());
      b.set_smelter_received_grams(b.smelter_received_grams() +
                                   body.receive_shipment().weight_grams());
      break;
    }
    case v1::TxBody::kCancelShipment: {
      auto it = shipments_.find(body.cancel_shipment().shipment_id());
      if (it == shipments_.end() || !ShipmentPending(it->second.status)) {
        Violation("shipment '" + body.cancel_shipment().shipment_id() +
                  "' was cancelled but was not pending");
        break;
      }
      it->second.status = v1::SHIPMENT_STATUS_CANCELLED;
      break;
    }
    case v1::TxBody::kReportIncident: {
      const auto& a = body.report_incident();
      IncidentModel inc;
      inc.id = Numbered("INC-", incidents_.size() + 1, 7);
      inc.kind = a.subject_kind();
      inc.subject = a.subject_id();
      inc.level = a.level();
      inc.category = a.category();
      if (!a.flag_id().empty()) {
        if (flag_incident_.count(a.flag_id())) {
          Violation("flag " + a.flag_id() + " opened a second incident");
        }
        flag_incident_[a.flag_id()] = inc.id;
      }
      incidents_.push_back(std::move(inc));
      break;
    }
    case v1::TxBody::kUpdateIncident: {
      const auto& a = body.update_incident();
      for (auto& inc : incidents_) {
        if (inc.id != a.incident_id()) continue;
        if (a.status() != v1::INCIDENT_STATUS_UNSPECIFIED) {
          if (a.status() <= inc.status) {
            Violation("incident " + inc.id + " moved from " + v1::IncidentStatus_Name(inc.status) +
                      " back to " + v1::IncidentStatus_Name(a.status()));
          }
          if (a.status() == v1::INCIDENT_STATUS_CLOSED &&
              inc.status != v1::INCIDENT_STATUS_RESOLVED) {
            Violation("incident " + inc.id + " was closed from " +
                      v1::IncidentStatus_Name(inc.status));
          }
          inc.status = a.status();
        }
        if (a.level() != 0) inc.level = a.level();
        if (a.category() != v1::INCIDENT_CATEGORY_UNSPECIFIED) inc.category = a.category();
      }
      break;
    }
    case v1::TxBody::kSetAuditFlag:
      audit_[body.set_audit_flag().member_key()] = body.set_audit_flag().flag();
      break;
    default:
      break;
  }
}

// A certificate issued or a shipment dispatched: at that point of the block nothing upstream
// may be under an open level-1 incident or at a red site, and the exporter must not be flagged
// red. Upstream comes from the state at the block's start (a lot's parents never change).
void History::CheckExportEvent(const std::string& shipment_id, const std::string& signer,
                               bool dispatch, const v1::Receipt& r, size_t index) {
  const ShipmentModel& s = shipments_.at(shipment_id);
  std::string what = (dispatch ? "dispatch of shipment '" : "certificate of shipment '") +
                     shipment_id + "' (tx " + std::to_string(index) + ")";
  if (dispatch) {
    if (s.status != v1::SHIPMENT_STATUS_CERTIFIED) {
      Violation(what + " without a certificate, in status " + v1::ShipmentStatus_Name(s.status));
    }
    if (signer != s.exporter) Violation(what + " signed by someone other than its exporter");
  } else if (signer == s.exporter) {
    Violation(what + " issued by its own exporter");
  }
  std::vector<std::string> problems;
  Blockers b = ExportBlockers(s.lots, s.exporter, r.block_time_ms(), &problems);
  for (const auto& p : problems) Violation(what + ": " + p);
  for (const auto& w : b.what) Violation(what + " went through while " + w);
}

// ---------------------------------------------------------------------------------------
// The invariants, from the ledger's records

void History::CheckState() {
  // -- no tag used twice --
  std::map<std::string, std::string> lot_of_tag;
  for (const auto& [id, lot] : snap_.lots) {
    if (lot.tag_id() != id) Violation("lot '" + id + "' carries tag '" + lot.tag_id() + "'");
    auto [seen, fresh] = lot_of_tag.emplace(lot.tag_id(), id);
    if (!fresh) {
      Violation("tag '" + lot.tag_id() + "' is on two lots: '" + seen->second + "' and '" + id +
                "'");
    }
    auto t = snap_.tags.find(lot.tag_id());
    if (t == snap_.tags.end()) {
      Violation("lot '" + id + "' carries tag '" + lot.tag_id() + "' that was never allocated");
      continue;
    }
    const v1::Tag& tag = t->second;
    if (tag.status() != v1::TAG_STATUS_USED || tag.lot_id() != id) {
      Violation("tag '" + tag.tag_id() + "' of lot '" + id + "' is " +
                v1::TagStatus_Name(tag.status()) + " naming lot '" + tag.lot_id() + "'");
    }
    if (dead_since_.count(tag.tag_id())) {
      Violation("tag '" + tag.tag_id() + "' was void, lost or withdrawn at height " +
                std::to_string(dead_since_.at(tag.tag_id())) + " and later got lot '" + id + "'");
    }
    if (lot.parent_lot_ids().empty()) {
      if (lot.origin() != v1::LOT_ORIGIN_MINE)
        Violation("lot '" + id + "' has no parents but is not a mine lot");
      if (tag.kind() != v1::TAG_KIND_MINE || tag.site_id() != lot.site_id() ||
          tag.agent_key() != lot.recorded_by()) {
        Violation("mine lot '" + id + "' at site '" + lot.site_id() +
                  "' was not recorded with a mine tag of that site by its agent");
      }
      if (lot.site_status_at_record() == v1::SITE_STATUS_RED) {
        Violation("mine lot '" + id + "' was recorded at a red site");
      }
      auto site = snap_.sites.find(lot.site_id());
      if (site == snap_.sites.end()) {
        Violation("mine lot '" + id + "' names unregistered site '" + lot.site_id() + "'");
      } else {
        uint64_t withdrawn = site->second.tags_withdrawn_height();
        if (withdrawn > 0 && tag.allocated_height() <= withdrawn &&
            lot.created_height() > withdrawn) {
          Violation("mine lot '" + id + "' used tag '" + tag.tag_id() +
                    "' after the site's tags were withdrawn at height " +
                    std::to_string(withdrawn));
        }
      }
    } else if (lot.origin() != v1::LOT_ORIGIN_PROCESSING || tag.kind() != v1::TAG_KIND_PROCESSOR ||
               tag.agent_key() != lot.processed_by()) {
      Violation("processed lot '" + id + "' does not carry its processor's processor tag");
    }
  }
  for (const auto& [id, tag] : snap_.tags) {
    if (tag.status() == v1::TAG_STATUS_USED) {
      auto lot = snap_.lots.find(tag.lot_id());
      if (lot == snap_.lots.end() || lot->second.tag_id() != id) {
        Violation("used tag '" + id + "' names lot '" + tag.lot_id() + "' which does not carry it");
      }
    }
  }
  for (const auto& id : snap_.dead_tags) dead_since_.emplace(id, snap_.height);
  for (const auto& id : snap_.withdrawn_tags) dead_since_.emplace(id, snap_.height);

  // -- no lot with two holders --
  std::map<std::string, std::string> listed;  // lot -> the holder whose list names it
  for (size_t i : registered_) {
    std::string token;
    do {
      LotFilter filter;
      filter.holder_key = A(i).id;
      auto page = ledger_->ListLots(filter, token, 1000);
      if (!page) {
        Violation("listing lots of " + A(i).name + " failed: " + page.error().ToString());
        return;
      }
      for (const auto& lot : page->items) {
        auto [it, fresh] = listed.emplace(lot.lot_id(), A(i).name);
        if (!fresh) {
          Violation("lot '" + lot.lot_id() + "' is listed under two holders: " + it->second +
                    " and " + A(i).name);
        }
        if (lot.holder_key() != A(i).id) {
          Violation("lot '" + lot.lot_id() + "' is listed under " + A(i).name +
                    " but its record names another holder");
        }
      }
      token = page->next_page_token;
    } while (!token.empty());
  }
  for (const auto& [id, lot] : snap_.lots) {
    bool held = lot.status() == v1::LOT_STATUS_HELD || lot.status() == v1::LOT_STATUS_IN_SHIPMENT ||
                lot.status() == v1::LOT_STATUS_DELIVERED;
    if (held == lot.holder_key().empty()) {
      Violation("lot '" + id + "' is " + v1::LotStatus_Name(lot.status()) +
                (held ? " without a holder" : " with a holder"));
    }
    if (!lot.holder_key().empty()) {
      auto who = ActorById(lot.holder_key());
      auto it = listed.find(id);
      if (!who || it == listed.end() || it->second != A(*who).name) {
        Violation("lot '" + id + "' is held by " + (who ? A(*who).name : "an unknown key") +
                  " but is not in that holder's list");
      }
    } else if (listed.count(id)) {
      Violation("lot '" + id + "' has no holder but is listed under " + listed.at(id));
    }
    // On its way (to a buyer, or exported to a smelter) a lot names where it goes.
    bool on_its_way =
        lot.status() == v1::LOT_STATUS_IN_TRANSIT || lot.status() == v1::LOT_STATUS_EXPORTED;
    bool at_rest =
        lot.status() == v1::LOT_STATUS_HELD || lot.status() == v1::LOT_STATUS_IN_SHIPMENT;
    if ((on_its_way && lot.dispatched_to().empty()) || (at_rest && !lot.dispatched_to().empty())) {
      Violation("lot '" + id + "' is " + v1::LotStatus_Name(lot.status()) +
                (lot.dispatched_to().empty() ? " without" : " with") + " a receiver");
    }
  }

  // -- mass never created --
  int64_t mine_grams = 0;
  for (const auto& [id, grams] : mine_weight_) mine_grams += static_cast<int64_t>(grams);
  int64_t live_grams = 0;
  int64_t loss_grams = 0;
  std::map<std::vector<std::string>, std::vector<const v1::Lot*>> events;  // inputs -> outputs
  for (const auto& [id, lot] : snap_.lots) {
    if (lot.status() != v1::LOT_STATUS_CONSUMED)
      live_grams += static_cast<int64_t>(lot.weight_grams());
    if (lot.parent_lot_ids().empty()) {
      auto recorded = mine_weight_.find(id);
      if (recorded == mine_weight_.end() || recorded->second != lot.origin_weight_grams()) {
        Violation("mine lot '" + id + "' origin weight " +
                  std::to_string(lot.origin_weight_grams()) +
                  " g is not the weight recorded at the mine");
      }
    } else {
      events[{lot.parent_lot_ids().begin(), lot.parent_lot_ids().end()}].push_back(&lot);
    }
  }
  std::set<std::string> consumed_seen;
  for (const auto& [inputs, outputs] : events) {
    int64_t in = 0;
    int64_t out = 0;
    std::set<std::string> output_ids;
    for (const auto* o : outputs) {
      out += static_cast<int64_t>(o->origin_weight_grams());
      output_ids.insert(o->lot_id());
    }
    bool inputs_ok = true;
    for (const auto& parent : inputs) {
      auto it = snap_.lots.find(parent);
      if (it == snap_.lots.end() || it->second.status() != v1::LOT_STATUS_CONSUMED) {
        Violation("processing input '" + parent + "' is not a consumed lot");
        inputs_ok = false;
        continue;
      }
      consumed_seen.insert(parent);
      in += static_cast<int64_t>(it->second.weight_grams());
      std::set<std::string> children(it->second.child_lot_ids().begin(),
                                     it->second.child_lot_ids().end());
      if (children != output_ids) {
        Violation("consumed lot '" + parent +
                  "' does not name exactly the outputs of its processing");
      }
    }
    if (!inputs_ok) continue;
    if (out > in) {
      Violation("processing of '" + inputs.front() + "'... made " + std::to_string(out) +
                " g from " + std::to_string(in) + " g");
    }
    for (const auto* o : outputs) {
      if (static_cast<int64_t>(o->processing_input_grams()) != in ||
          static_cast<int64_t>(o->processing_loss_grams()) != in - out) {
        Violation("processed lot '" + o->lot_id() + "' records input " +
                  std::to_string(o->processing_input_grams()) + " g and loss " +
                  std::to_string(o->processing_loss_grams()) + " g; its event had " +
                  std::to_string(in) + " g in and " + std::to_string(out) + " g out");
      }
    }
    loss_grams += in - out;
  }
  for (const auto& id : snap_.consumed_lots) {
    if (!consumed_seen.count(id)) Violation("consumed lot '" + id + "' made no lot");
  }
  if (live_grams > mine_grams + receive_gain_grams_) {
    Violation("mass created: lots not consumed weigh " + std::to_string(live_grams) +
              " g, more than the " + std::to_string(mine_grams) + " g recorded at mines plus " +
              std::to_string(receive_gain_grams_) + " g found heavier at receipt");
  }
  if (live_grams != mine_grams + receive_net_grams_ - loss_grams) {
    Violation("mass does not balance: lots not consumed weigh " + std::to_string(live_grams) +
              " g; mines " + std::to_string(mine_grams) + " g, receipts " +
              std::to_string(receive_net_grams_) + " g, processing loss " +
              std::to_string(loss_grams) + " g");
  }

  // -- every shipment traces to mine lots --
  std::map<std::string, std::set<std::string>> roots_of;  // lot -> sites of its mine lots
  for (const auto& [sid, s] : shipments_) {
    for (const auto& id : s.lots) {
      auto it = snap_.lots.find(id);
      if (it == snap_.lots.end()) {
        Violation("shipment '" + sid + "' names missing lot '" + id + "'");
        continue;
      }
      const v1::Lot& lot = it->second;
      v1::LotStatus want = v1::LOT_STATUS_IN_SHIPMENT;
      std::string holder = s.exporter;
      if (s.status == v1::SHIPMENT_STATUS_DISPATCHED) want = v1::LOT_STATUS_EXPORTED, holder = "";
      if (s.status == v1::SHIPMENT_STATUS_RECEIVED)
        want = v1::LOT_STATUS_DELIVERED, holder = s.smelter;
      if (s.status == v1::SHIPMENT_STATUS_CANCELLED) {
        if (lot.shipment_id() == sid && lot.status() != v1::LOT_STATUS_HELD) {
          Violation("lot '" + id + "' of cancelled shipment '" + sid + "' is " +
                    v1::LotStatus_Name(lot.status()));
        }
        continue;
      }
      if (lot.status() != want || lot.holder_key() != holder || lot.shipment_id() != sid) {
        auto who = [&](const std::string& key) {
          auto actor = ActorById(key);
          return key.empty() ? std::string("nobody") : actor ? A(*actor).name : "an unknown key";
        };
        Violation("lot '" + id + "' of " + v1::ShipmentStatus_Name(s.status) + " shipment '" + sid +
                  "' is " + v1::LotStatus_Name(lot.status()) + " held by " + who(lot.holder_key()) +
                  " in shipment '" + lot.shipment_id() + "'; expected " + v1::LotStatus_Name(want) +
                  " held by " + who(holder));
      }
    }
    std::vector<std::string> problems;
    for (const auto& id : Upstream(s.lots, &problems)) {
      const v1::Lot& lot = snap_.lots.at(id);
      if (!lot.parent_lot_ids().empty()) continue;
      auto tag = snap_.tags.find(lot.tag_id());
      if (lot.origin() != v1::LOT_ORIGIN_MINE || tag == snap_.tags.end() ||
          tag->second.kind() != v1::TAG_KIND_MINE || tag->second.status() != v1::TAG_STATUS_USED ||
          !snap_.sites.count(lot.site_id())) {
        Violation("shipment '" + sid + "' traces to lot '" + id +
                  "', which is not a mine-tagged lot of a registered site");
      }
    }
    for (const auto& p : problems) Violation("shipment '" + sid + "': " + p);
  }
  for (const auto& [id, lot] : snap_.lots) {
    if (lot.status() != v1::LOT_STATUS_IN_SHIPMENT && lot.status() != v1::LOT_STATUS_EXPORTED &&
        lot.status() != v1::LOT_STATUS_DELIVERED) {
      continue;
    }
    auto s = shipments_.find(lot.shipment_id());
    if (s == shipments_.end() ||
        std::find(s->second.lots.begin(), s->second.lots.end(), id) == s->second.lots.end()) {
      Violation("lot '" + id + "' is " + v1::LotStatus_Name(lot.status()) +
                " but no shipment formed on the ledger holds it");
    }
  }
  // A processed lot lists the sites of all its mine lots.
  for (const auto& [id, lot] : snap_.lots) {
    if (lot.parent_lot_ids().empty()) continue;
    std::set<std::string> sites;
    for (const auto& up : Upstream({id}, nullptr)) {
      const v1::Lot& u = snap_.lots.at(up);
      if (u.parent_lot_ids().empty()) sites.insert(u.site_id());
    }
    if (std::vector<std::string>(sites.begin(), sites.end()) !=
        std::vector<std::string>(lot.mine_site_ids().begin(), lot.mine_site_ids().end())) {
      Violation("processed lot '" + id + "' does not list the sites of its mine lots");
    }
  }

  // -- the models agree with the ledger --
  CheckRecordsAgainstModels();
  for (const auto& [id, status] : site_status_) {
    auto site = snap_.sites.find(id);
    if (site == snap_.sites.end()) {
      Violation("site '" + id + "' is registered in receipts but missing");
      continue;
    }
    v1::MineSite model;
    model.set_status(status);
    model.set_last_inspection_ms(site_inspected_ms_.at(id));
    if (EffectiveSiteStatus(model, snap_.time_ms) != site->second.status()) {
      Violation("site '" + id + "' is " + v1::SiteStatus_Name(site->second.status()) +
                " but its inspections and status changes make it " +
                v1::SiteStatus_Name(EffectiveSiteStatus(model, snap_.time_ms)));
    }
  }
  for (const auto& [key, flag] : audit_) {
    auto m = snap_.members.find(key);
    if (m != snap_.members.end() && m->second.audit_flag() != flag) {
      Violation("exporter " + A(*ActorById(key)).name + " has audit flag " +
                v1::AuditFlag_Name(m->second.audit_flag()) + ", set to " +
                v1::AuditFlag_Name(flag));
    }
  }
}

// Shipments, incidents, flags and mass balances as the ledger serves them must be what the
// committed receipts made of them.
void History::CheckRecordsAgainstModels() {
  auto name = [&](const std::string& key) {
    auto actor = ActorById(key);
    return key.empty() ? std::string("nobody") : actor ? A(*actor).name : "an unknown key";
  };
  size_t listed_shipments = 0;
  std::string token;
  do {
    auto page = ledger_->ListShipments(ShipmentFilter{}, token, 1000);
    if (!page) return Violation("ListShipments failed: " + page.error().ToString());
    listed_shipments += page->items.size();
    token = page->next_page_token;
  } while (!token.empty());
  if (listed_shipments != shipments_.size()) {
    Violation("the ledger lists " + std::to_string(listed_shipments) + " shipments; " +
              std::to_string(shipments_.size()) + " were formed");
  }
  for (const auto& [id, model] : shipments_) {
    auto got = ledger_->GetShipment(id);
    if (!got || !got->has_value()) {
      Violation("shipment '" + id + "' is missing");
      continue;
    }
    const v1::Shipment& s = **got;
    bool certified = model.status == v1::SHIPMENT_STATUS_CERTIFIED ||
                     model.status == v1::SHIPMENT_STATUS_DISPATCHED ||
                     model.status == v1::SHIPMENT_STATUS_RECEIVED;
    if (s.status() != model.status || s.exporter_key() != model.exporter ||
        std::vector<std::string>(s.lot_ids().begin(), s.lot_ids().end()) != model.lots ||
        s.weight_grams() != model.weight_grams || s.smelter_key() != model.smelter ||
        (certified && s.certificate().number().empty())) {
      Violation("shipment '" + id + "' is " + v1::ShipmentStatus_Name(s.status()) + " of " +
                name(s.exporter_key()) + ", " + std::to_string(s.weight_grams()) + " g to " +
                name(s.smelter_key()) + (s.certificate().number().empty() ? ", no" : ", a") +
                " certificate; its receipts make it " + v1::ShipmentStatus_Name(model.status) +
                " of " + name(model.exporter) + ", " + std::to_string(model.weight_grams) +
                " g to " + name(model.smelter));
    }
  }

  std::vector<v1::Incident> incidents;
  token.clear();
  do {
    auto page = ledger_->ListIncidents(IncidentFilter{}, token, 1000);
    if (!page) return Violation("ListIncidents failed: " + page.error().ToString());
    incidents.insert(incidents.end(), page->items.begin(), page->items.end());
    token = page->next_page_token;
  } while (!token.empty());
  if (incidents.size() != incidents_.size()) {
    Violation("the ledger lists " + std::to_string(incidents.size()) + " incidents; " +
              std::to_string(incidents_.size()) + " were reported");
  }
  for (size_t i = 0; i < incidents.size() && i < incidents_.size(); ++i) {
    const v1::Incident& got = incidents[i];
    const IncidentModel& want = incidents_[i];
    std::string flag;
    for (const auto& [f, inc] : flag_incident_) {
      if (inc == want.id) flag = f;
    }
    if (got.incident_id() != want.id || got.subject_kind() != want.kind ||
        got.subject_id() != want.subject || got.level() != want.level ||
        got.status() != want.status || got.category() != want.category || got.flag_id() != flag) {
      Violation("incident " + got.incident_id() + " is level " + std::to_string(got.level()) + " " +
                v1::IncidentStatus_Name(got.status()) + " on '" + got.subject_id() +
                "' from flag '" + got.flag_id() + "'; the receipts make " + want.id + " level " +
                std::to_string(want.level) + " " + v1::IncidentStatus_Name(want.status) + " on '" +
                want.subject + "' from flag '" + flag + "'");
    }
  }

  // The provenance of a shipment formed or dispatched in this block is its upstream graph.
  for (const auto& id : touched_shipments_) {
    auto prov = ledger_->GetProvenance("", id);
    if (!prov) {
      Violation("provenance of shipment '" + id + "' failed: " + prov.error().ToString());
      continue;
    }
    std::set<std::string> got;
    for (const auto& l : prov->lots()) got.insert(l.lot().lot_id());
    auto upstream = Upstream(shipments_.at(id).lots, nullptr);
    std::set<std::string> sites;
    for (const auto& site : prov->sites()) sites.insert(site.site_id());
    bool sites_ok = true;
    for (const auto& lot : upstream) {
      const v1::Lot& l = snap_.lots.at(lot);
      if (l.parent_lot_ids().empty() && !sites.count(l.site_id())) sites_ok = false;
    }
    if (prov->truncated() || prov->shipment().shipment_id() != id || !sites_ok ||
        got != std::set<std::string>(upstream.begin(), upstream.end())) {
      Violation("provenance of shipment '" + id + "' lists " + std::to_string(got.size()) +
                " lots and " + std::to_string(sites.size()) + " sites; its upstream graph has " +
                std::to_string(upstream.size()) + " lots");
    }
  }
  touched_shipments_.clear();

  size_t flags = 0;
  token.clear();
  do {
    auto page = ledger_->ListFlags(FlagFilter{}, token, 1000);
    if (!page) return Violation("ListFlags failed: " + page.error().ToString());
    for (const auto& f : page->items) {
      ++flags;
      auto lot = flag_lots_.find(f.flag_id());
      auto inc = flag_incident_.find(f.flag_id());
      if (lot == flag_lots_.end() || lot->second != f.lot_id() ||
          f.incident_id() != (inc == flag_incident_.end() ? "" : inc->second)) {
        Violation("flag " + f.flag_id() + " (" + f.kind() + ", lot '" + f.lot_id() +
                  "', incident '" + f.incident_id() +
                  "') is not the anomaly of that rank on the receipts");
      }
    }
    token = page->next_page_token;
  } while (!token.empty());
  if (flags != flags_raised_) {
    Violation("the ledger lists " + std::to_string(flags) + " flags; receipts carry " +
              std::to_string(flags_raised_) + " anomalies");
  }

  for (size_t i : registered_) {
    auto holdings = ledger_->GetHoldings(A(i).id);
    if (!holdings || !holdings->has_value()) {
      Violation("no holdings for " + A(i).name);
      continue;
    }
    v1::MassBalance want;
    if (auto it = balances_.find(A(i).id); it != balances_.end()) want = it->second;
    const v1::MassBalance& got = (*holdings)->balance();
    const std::pair<const char*, std::pair<uint64_t, uint64_t>> fields[] = {
        {"produced", {got.produced_grams(), want.produced_grams()}},
        {"received", {got.received_grams(), want.received_grams()}},
        {"dispatched", {got.dispatched_grams(), want.dispatched_grams()}},
        {"processing input", {got.processing_input_grams(), want.processing_input_grams()}},
        {"processing output", {got.processing_output_grams(), want.processing_output_grams()}},
        {"processing loss", {got.processing_loss_grams(), want.processing_loss_grams()}},
        {"exported", {got.exported_grams(), want.exported_grams()}},
        {"smelter received", {got.smelter_received_grams(), want.smelter_received_grams()}},
    };
    for (const auto& [field, values] : fields) {
      if (values.first != values.second) {
        Violation(A(i).name + "'s mass balance says " + field + " " + std::to_string(values.first) +
                  " g; its receipts add up to " + std::to_string(values.second) + " g");
      }
    }
    uint64_t held_grams = 0;
    uint32_t held_lots = 0;
    for (const auto& [id, lot] : snap_.lots) {
      if (lot.holder_key() == A(i).id &&
          (lot.status() == v1::LOT_STATUS_HELD || lot.status() == v1::LOT_STATUS_IN_SHIPMENT)) {
        held_grams += lot.weight_grams();
        ++held_lots;
      }
    }
    if ((*holdings)->held_lots() != held_lots || (*holdings)->held_grams() != held_grams) {
      Violation(A(i).name + " holds " + std::to_string((*holdings)->held_lots()) + " lots of " +
                std::to_string((*holdings)->held_grams()) + " g by its holdings, " +
                std::to_string(held_lots) + " lots of " + std::to_string(held_grams) +
                " g by the lots");
    }
  }
}

Outcome History::Run() {
  auto opened = Open();
  if (!opened) {
    out_.violations.push_back("could not open the ledger: " + opened.error().ToString());
    return std::move(out_);
  }
  for (int step = 0; step < 3 && out_.violations.empty(); ++step) {
    RunBlock(PlanSetup(step));
    now_ms_ += 1000;
  }
  for (int block = 0; block < random_blocks_ && out_.violations.empty(); ++block) {
    RunBlock(PlanRandomBlock());
    now_ms_ += static_cast<int64_t>(U(1000, 10 * kMinuteMs));
    // Once, a long quiet spell: sites not inspected within a year lapse to blue.
    if (block == random_blocks_ / 2) now_ms_ += 380 * kDayMs;
  }
  out_.height = ledger_->head().height();
  out_.accumulator_root = Hex(ledger_->head().accumulator_root());
  auto tally = [](const std::map<std::string, int>& m) {
    std::string t;
    for (const auto& [k, n] : m) t += " " + k + " " + std::to_string(n);
    return t;
  };
  std::map<std::string, int> lots, shipments, incidents;
  for (const auto& [id, lot] : snap_.lots) {
    lots[v1::LotStatus_Name(lot.status()).substr(11)]++;  // "LOT_STATUS_".size()
    if (!lot.parent_lot_ids().empty()) lots["(processed)"]++;
  }
  for (const auto& [id, sh] : shipments_)
    shipments[v1::ShipmentStatus_Name(sh.status).substr(16)]++;
  for (const auto& inc : incidents_) {
    incidents["L" + std::to_string(inc.level) + " " +
              v1::IncidentStatus_Name(inc.status).substr(16)]++;
  }
  out_.reached = "  lots:" + tally(lots) + "\n  shipments:" + tally(shipments) +
                 "\n  incidents:" + tally(incidents) + " (" +
                 std::to_string(flag_incident_.size()) + " opened from flags)\n";
  return std::move(out_);
}

// ---------------------------------------------------------------------------------------

std::string Summary(uint64_t seed, const Outcome& o) {
  std::string s = "seed " + std::to_string(seed) + ": " + std::to_string(o.height) + " blocks, " +
                  std::to_string(o.txs) + " txs, accumulator root " + o.accumulator_root + "\n";
  char line[160];
  std::snprintf(line, sizeof line, "  %-20s %6s %7s %9s\n", "action", "ok", "failed", "breaches");
  s += line;
  int ok = 0, failed = 0, breaches = 0;
  for (Case c : kAllActions) {
    auto it = o.counts.find(c);
    Count n = it == o.counts.end() ? Count{} : it->second;
    std::snprintf(line, sizeof line, "  %-20s %6d %7d %9d\n", ActionName(c).c_str(), n.ok, n.failed,
                  n.breaches);
    s += line;
    ok += n.ok;
    failed += n.failed;
    breaches += n.breaches;
  }
  std::snprintf(line, sizeof line, "  %-20s %6d %7d %9d\n", "total", ok, failed, breaches);
  s += line;
  s += "  anomalies:";
  for (const auto& [kind, n] : o.anomalies) s += " " + kind + " " + std::to_string(n);
  s += "\n" + o.reached;
  return s;
}

std::vector<uint64_t> Seeds(std::vector<uint64_t> defaults) {
  const char* env = std::getenv("MINETRACE_HISTORY_SEEDS");
  if (env == nullptr) return defaults;
  std::vector<uint64_t> seeds;
  for (uint64_t s = 1; s <= std::strtoull(env, nullptr, 10); ++s) seeds.push_back(s);
  return seeds;
}

TEST(History, InvariantsHoldThroughRandomHistory) {
  const bool verbose = std::getenv("MINETRACE_HISTORY_VERBOSE") != nullptr;
  for (uint64_t seed : Seeds({1, 2})) {
    SCOPED_TRACE("seed " + std::to_string(seed) +
                 " (replay: MINETRACE_HISTORY_SEEDS covers seeds 1..N)");
    History history(seed, 75, "main");
    Outcome o = history.Run();
    std::printf("%s", Summary(seed, o).c_str());
    if (verbose) {
      for (const auto& [why, n] : o.refusals_of_valid) std::printf("  %4d x %s\n", n, why.c_str());
      for (const auto& [why, n] : o.breaches) std::printf("  breach %4d x %s\n", n, why.c_str());
    }
    std::string violations;
    for (size_t i = 0; i < o.violations.size() && i < 20; ++i) violations += o.violations[i] + "\n";
    EXPECT_TRUE(o.violations.empty())
        << "seed " << seed << ": " << o.violations.size() << " violations, the first:\n"
        << violations;
    EXPECT_GE(o.txs, 1500) << "seed " << seed;
    for (Case c : kAllActions) {
      auto it = o.counts.find(c);
      EXPECT_TRUE(it != o.counts.end() && it->second.ok > 0)
          << "seed " << seed << ": no " << ActionName(c) << " committed OK";
      EXPECT_TRUE(it != o.counts.end() && it->second.failed > 0)
          << "seed " << seed << ": no " << ActionName(c) << " was refused";
    }
  }
}

// The same seed gives the same ledger: the history replays from its printed seed.
TEST(History, SameSeedSameLedger) {
  History first(7, 15, "first");
  History second(7, 15, "second");
  Outcome a = first.Run();
  Outcome b = second.Run();
  EXPECT_TRUE(a.violations.empty()) << a.violations.front();
  EXPECT_EQ(a.accumulator_root, b.accumulator_root);
  EXPECT_EQ(a.txs, b.txs);
  EXPECT_GT(a.txs, 300);
}

}  // namespace
}  // namespace minetrace::ledger
