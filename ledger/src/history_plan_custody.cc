// Planning a block: custody actions (members, sites, tags, mine lots, dispatch,
// receipt, processing), each valid or a deliberate breach.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "history.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::ledger::history {

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
      pool = r < 85 ? exporters_ : processors_;
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
      return Breach(h->first, b, "lots go to a trader, processor or exporter", "");
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
  if (bad && Chance(0.5)) {  // without a reason, or by an agent: refused whatever the site
    auto b = Body();
    std::vector<std::string> all = SitesWhere(true);
    for (const auto& id : SitesWhere(false)) all.push_back(id);
    std::string site = Pick(all);
    if (withdraw) {
      b.mutable_withdraw_site_tags()->set_site_id(site);
    } else {
      b.mutable_restore_site_tags()->set_site_id(site);
    }
    if (Chance(0.5)) return Breach(admin_, b, "a withdrawal or restoration says why", "");
    if (withdraw) b.mutable_withdraw_site_tags()->set_reason("tags sold off site");
    if (!withdraw) b.mutable_restore_site_tags()->set_reason("new agent in place");
    return Breach(AnyActive(agents_), b, "only administrators and regulators withdraw tags", "");
  }
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

}  // namespace minetrace::ledger::history
