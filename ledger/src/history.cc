// Running a history: the cast, the setup blocks, reading the ledger, running blocks.
#include "history.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "minetrace/ledger/proof/tx.h"

namespace minetrace::ledger::history {

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
    if (a.Has(v1::ROLE_TRADER) || a.Has(v1::ROLE_PROCESSOR) || a.Has(v1::ROLE_EXPORTER)) {
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

}  // namespace minetrace::ledger::history
