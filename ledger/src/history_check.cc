// Replaying a block's receipts against the models, and the invariants checked from the
// ledger's records after every block.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "history.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::ledger::history {

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

}  // namespace minetrace::ledger::history
