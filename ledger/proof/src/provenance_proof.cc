// The offline provenance proof verifier (see provenance_proof.h for what it checks and what
// it cannot prove). Every message names the tx (first 8 bytes of its id, its action and leaf)
// or the lot it is about, so a person can find the failing step.
#include "minetrace/ledger/proof/provenance_proof.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "minetrace/crypto/sha256.h"
#include "minetrace/ledger/proof/bundle_context.h"
#include "minetrace/ledger/proof/custody_event.h"
#include "minetrace/ledger/proof/merkle.h"
#include "minetrace/ledger/proof/tx.h"

namespace minetrace::ledger::proof {
namespace {

// One verified tx of the bundle.
struct Entry {
  size_t position = 0;  // in bundle.txs
  v1::TxBody body;
  v1::Receipt receipt;
  Hash32 tx_id{};
  Hash32 receipt_hash{};
  std::string signer;
  std::string action;
};

Error Invalid(std::string message) {
  return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

std::string Short(std::string_view bytes) {
  return ToHex(AsBytes(bytes.substr(0, std::min<size_t>(bytes.size(), 8))));
}
std::string Short(const Hash32& hash) { return ToHex(ByteView(hash.data(), 8)); }
std::string KeyName(std::string_view key) {
  return key.empty() ? std::string("nobody") : "member " + Short(key) + "...";
}

std::string TxName(const Entry& e) {
  return "tx " + Short(e.tx_id) + "... (" + e.action + ", leaf " +
         std::to_string(e.receipt.leaf_index()) + ")";
}

const v1::LotLink* LinkFor(const v1::Receipt& receipt, const std::string& lot_id) {
  for (const v1::LotLink& link : receipt.lot_links()) {
    if (link.lot_id() == lot_id) return &link;
  }
  return nullptr;
}

bool Names(const google::protobuf::RepeatedPtrField<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// Step 3: one tx, its receipt and its inclusion path.
Result<Entry> CheckTx(const v1::ProofTx& ptx, size_t position, const std::string& chain_id,
                      const CertifiedLedgerRoot& root) {
  const std::string where = "tx " + std::to_string(position) + " of the bundle";
  auto body = CheckTxEnvelope(ptx.tx(), /*verify_signature=*/true);
  if (!body) return tl::unexpected(Invalid(where + ": " + body.error().message));
  Entry e;
  e.position = position;
  e.body = std::move(*body);
  e.tx_id = TxId(ptx.tx());
  e.signer = ptx.tx().signer();
  e.action = TxActionName(e.body);
  const std::string name = where + " (" + e.action + ", tx " + Short(e.tx_id) + "...)";
  if (e.body.chain_id() != chain_id) {
    return tl::unexpected(
        Invalid(name + " is signed for chain '" + e.body.chain_id() + "', not '" + chain_id + "'"));
  }
  if (!e.receipt.ParseFromString(ptx.receipt())) {
    return tl::unexpected(Invalid(name + ": its receipt is not a minetrace.v1.Receipt"));
  }
  if (e.receipt.tx_id() != HashString(e.tx_id)) {
    return tl::unexpected(
        Invalid(name + ": its receipt names tx " + Short(e.receipt.tx_id()) +
                "..., not SHA256 of this body: the receipt belongs to another tx"));
  }
  if (e.receipt.signer() != e.signer) {
    return tl::unexpected(Invalid(name + ": its receipt names signer " + Short(e.receipt.signer()) +
                                  "..., not the tx's signer " + Short(e.signer) + "..."));
  }
  if (e.receipt.leaf_index() != ptx.leaf_index()) {
    return tl::unexpected(Invalid(name + ": the bundle places it at leaf " +
                                  std::to_string(ptx.leaf_index()) + " but its receipt says " +
                                  std::to_string(e.receipt.leaf_index())));
  }
  if (ptx.leaf_index() >= root.leaf_count || e.receipt.height() > root.height) {
    return tl::unexpected(Invalid(
        name + ": leaf " + std::to_string(ptx.leaf_index()) + " at height " +
        std::to_string(e.receipt.height()) + " is not covered by the certified ledger root (" +
        std::to_string(root.leaf_count) + " leaves, height " + std::to_string(root.height) + ")"));
  }
  if (static_cast<size_t>(ptx.inclusion_path_size()) > kMaxInclusionPathLength) {
    return tl::unexpected(Invalid(name + ": inclusion path longer than " +
                                  std::to_string(kMaxInclusionPathLength) + " hashes"));
  }
  std::vector<Hash32> path;
  for (int i = 0; i < ptx.inclusion_path_size(); ++i) {
    auto h = Hash32FromBytes(AsBytes(ptx.inclusion_path(i)));
    if (!h) {
      return tl::unexpected(
          Invalid(name + ": inclusion path hash " + std::to_string(i) + " is not 32 bytes"));
    }
    path.push_back(*h);
  }
  e.receipt_hash = ReceiptHash(AsBytes(ptx.receipt()));
  if (!VerifyInclusion(ptx.leaf_index(), root.leaf_count, e.receipt_hash, path,
                       root.accumulator_root)) {
    return tl::unexpected(Invalid(
        name + ": its receipt is not in the certified ledger: the inclusion path of leaf " +
        std::to_string(ptx.leaf_index()) + " does not lead to root " +
        Short(root.accumulator_root) + "... of " + std::to_string(root.leaf_count) + " leaves"));
  }
  if (e.receipt.status() != v1::TX_STATUS_OK) {
    return tl::unexpected(Invalid(name + " FAILED on the ledger (" + e.receipt.reason() +
                                  "): a failed tx is no custody event and has no place here"));
  }
  return e;
}

// Weights read while replaying histories: a lot's weight when processing consumed it and
// when it was put into a shipment.
struct Tallies {
  std::map<std::string, uint64_t> consumed_weight;
  std::map<std::string, uint64_t> formed_weight;
};

std::string ShipmentIdOf(const v1::TxBody& body) {
  switch (body.action_case()) {
    case v1::TxBody::kFormShipment:
      return body.form_shipment().shipment_id();
    case v1::TxBody::kReviewShipment:
      return body.review_shipment().shipment_id();
    case v1::TxBody::kDispatchShipment:
      return body.dispatch_shipment().shipment_id();
    case v1::TxBody::kReceiveShipment:
      return body.receive_shipment().shipment_id();
    case v1::TxBody::kCancelShipment:
      return body.cancel_shipment().shipment_id();
    default:
      return {};
  }
}

// Step 5: one event of a lot's history, oldest first; `lot` is its state before the event.
// Mirrors the custody rules of ledger/src/rules_custody.cc, rules_processing.cc and
// rules_export.cc by keys only (the bundle does not prove roles).
Result<void> ApplyEvent(v1::Lot& lot, const Entry& e, bool first, Tallies& tallies) {
  const std::string& id = lot.lot_id();
  const std::string at = "lot '" + id + "' at " + TxName(e) + ": ";
  auto broken = [&](const std::string& why) {
    return tl::unexpected(Invalid("custody broken: " + at + why));
  };
  auto require_holder = [&](const char* what) -> Result<void> {
    if (lot.status() != v1::LOT_STATUS_HELD) {
      return broken(std::string(what) + " a lot that is not held (status " +
                    v1::LotStatus_Name(lot.status()) + ")");
    }
    if (lot.holder_key() != e.signer) {
      return broken(std::string(what) + " signed by " + KeyName(e.signer) +
                    " but the lot is held by " + KeyName(lot.holder_key()));
    }
    return {};
  };
  auto require_shipment = [&](const std::string& shipment_id,
                              v1::LotStatus status) -> Result<void> {
    if (lot.status() != status || lot.shipment_id() != shipment_id) {
      return broken("names shipment '" + shipment_id + "' but the lot is " +
                    v1::LotStatus_Name(lot.status()) +
                    (lot.shipment_id().empty() ? "" : " in shipment '" + lot.shipment_id() + "'"));
    }
    return {};
  };
  const bool creation =
      e.body.action_case() == v1::TxBody::kRecordMineLot ||
      (e.body.action_case() == v1::TxBody::kProcessLots &&
       std::any_of(e.body.process_lots().outputs().begin(), e.body.process_lots().outputs().end(),
                   [&](const v1::ProcessedOutput& o) { return o.tag_id() == id; }));
  if (first != creation) {
    return broken(first ? "its history starts here, not at its creation (a mine lot's "
                          "record_mine_lot or a processed lot's process_lots): an upstream "
                          "step is missing"
                        : "the lot is created a second time");
  }
  switch (e.body.action_case()) {
    case v1::TxBody::kRecordMineLot: {
      const v1::RecordMineLot& a = e.body.record_mine_lot();
      if (a.tag_id() != id) return broken("record_mine_lot names tag " + a.tag_id());
      lot.set_tag_id(a.tag_id());
      lot.set_site_id(a.site_id());
      lot.set_mineral(a.mineral());
      lot.set_weight_grams(a.weight_grams());
      lot.set_grade_basis_points(a.grade_basis_points());
      lot.set_producer_key(a.producer_key());
      lot.set_recorded_by(e.signer);
      lot.set_status(v1::LOT_STATUS_HELD);
      lot.set_holder_key(a.producer_key());
      lot.set_origin(v1::LOT_ORIGIN_MINE);
      lot.set_origin_weight_grams(a.weight_grams());
      lot.set_created_device_time_ms(e.body.created_at_ms());
      lot.set_created_height(e.receipt.height());
      break;
    }
    case v1::TxBody::kProcessLots: {
      const v1::ProcessLots& a = e.body.process_lots();
      if (creation) {
        for (const v1::ProcessedOutput& o : a.outputs()) {
          if (o.tag_id() != id) continue;
          lot.set_tag_id(o.tag_id());
          lot.set_weight_grams(o.weight_grams());
          lot.set_grade_basis_points(o.grade_basis_points());
          lot.set_origin_weight_grams(o.weight_grams());
        }
        lot.set_recorded_by(e.signer);
        lot.set_processed_by(e.signer);
        lot.set_status(v1::LOT_STATUS_HELD);
        lot.set_holder_key(e.signer);
        lot.set_origin(v1::LOT_ORIGIN_PROCESSING);
        *lot.mutable_parent_lot_ids() = a.input_lot_ids();
        lot.set_created_device_time_ms(e.body.created_at_ms());
        lot.set_created_height(e.receipt.height());
        break;
      }
      if (!Names(a.input_lot_ids(), id)) return broken("process_lots does not name the lot");
      MT_TRY(require_holder("process_lots"));
      tallies.consumed_weight[id] = lot.weight_grams();
      lot.set_status(v1::LOT_STATUS_CONSUMED);
      lot.clear_holder_key();
      lot.clear_child_lot_ids();
      for (const auto& o : a.outputs()) lot.add_child_lot_ids(o.tag_id());
      break;
    }
    case v1::TxBody::kDispatchLots: {
      const v1::DispatchLots& a = e.body.dispatch_lots();
      if (!Names(a.lot_ids(), id)) return broken("dispatch_lots does not name the lot");
      MT_TRY(require_holder("dispatch_lots"));
      lot.set_status(v1::LOT_STATUS_IN_TRANSIT);
      lot.clear_holder_key();
      lot.set_dispatched_by(e.signer);
      lot.set_dispatched_to(a.receiver_key());
      lot.set_dispatched_weight_grams(lot.weight_grams());
      break;
    }
    case v1::TxBody::kReceiveLots: {
      const v1::ReceiveLots& a = e.body.receive_lots();
      auto it = std::find_if(a.lots().begin(), a.lots().end(),
                             [&](const v1::ReceivedLot& r) { return r.lot_id() == id; });
      if (it == a.lots().end()) return broken("receive_lots does not name the lot");
      if (lot.status() != v1::LOT_STATUS_IN_TRANSIT || lot.dispatched_to() != e.signer) {
        return broken("received by " + KeyName(e.signer) + " but the lot was not in transit to " +
                      "it (dispatched to " + KeyName(lot.dispatched_to()) + ")");
      }
      lot.set_status(v1::LOT_STATUS_HELD);
      lot.set_holder_key(e.signer);
      lot.set_weight_grams(it->weight_grams());
      lot.clear_dispatched_by();
      lot.clear_dispatched_to();
      lot.clear_dispatched_weight_grams();
      break;
    }
    case v1::TxBody::kCancelDispatch: {
      if (!Names(e.body.cancel_dispatch().lot_ids(), id)) {
        return broken("cancel_dispatch does not name the lot");
      }
      if (lot.status() != v1::LOT_STATUS_IN_TRANSIT || lot.dispatched_by() != e.signer) {
        return broken("dispatch cancelled by " + KeyName(e.signer) + ", who did not send it");
      }
      lot.set_status(v1::LOT_STATUS_HELD);
      lot.set_holder_key(e.signer);
      lot.clear_dispatched_by();
      lot.clear_dispatched_to();
      lot.clear_dispatched_weight_grams();
      break;
    }
    case v1::TxBody::kFormShipment: {
      const v1::FormShipment& a = e.body.form_shipment();
      if (!Names(a.lot_ids(), id)) return broken("form_shipment does not name the lot");
      MT_TRY(require_holder("form_shipment"));
      lot.set_status(v1::LOT_STATUS_IN_SHIPMENT);
      lot.set_shipment_id(a.shipment_id());
      tallies.formed_weight[id] = lot.weight_grams();
      break;
    }
    case v1::TxBody::kReviewShipment:
      MT_TRY(require_shipment(e.body.review_shipment().shipment_id(), v1::LOT_STATUS_IN_SHIPMENT));
      break;
    case v1::TxBody::kDispatchShipment: {
      const v1::DispatchShipment& a = e.body.dispatch_shipment();
      MT_TRY(require_shipment(a.shipment_id(), v1::LOT_STATUS_IN_SHIPMENT));
      if (lot.holder_key() != e.signer) {
        return broken("shipment dispatched by " + KeyName(e.signer) + " but the lot is held by " +
                      KeyName(lot.holder_key()));
      }
      lot.set_status(v1::LOT_STATUS_EXPORTED);
      lot.clear_holder_key();
      lot.set_dispatched_by(e.signer);
      lot.set_dispatched_to(a.smelter_key());
      break;
    }
    case v1::TxBody::kReceiveShipment:
      MT_TRY(require_shipment(e.body.receive_shipment().shipment_id(), v1::LOT_STATUS_EXPORTED));
      if (lot.dispatched_to() != e.signer) {
        return broken("shipment received by " + KeyName(e.signer) + " but it was dispatched to " +
                      KeyName(lot.dispatched_to()));
      }
      lot.set_status(v1::LOT_STATUS_DELIVERED);
      lot.set_holder_key(e.signer);
      break;
    case v1::TxBody::kCancelShipment:
      MT_TRY(require_shipment(e.body.cancel_shipment().shipment_id(), v1::LOT_STATUS_IN_SHIPMENT));
      if (lot.holder_key() != e.signer) {
        return broken("shipment cancelled by " + KeyName(e.signer) + " but the lot is held by " +
                      KeyName(lot.holder_key()));
      }
      lot.set_status(v1::LOT_STATUS_HELD);
      lot.clear_shipment_id();
      break;
    default:
      return broken(e.action + " is no custody event, yet its receipt links the lot");
  }
  lot.set_last_receipt_hash(HashString(e.receipt_hash));
  lot.set_last_device_time_ms(e.body.created_at_ms());
  lot.set_last_ledger_time_ms(e.receipt.block_time_ms());
  return {};
}

v1::CustodyEvent EventOf(const Entry& e, const std::string& lot_id) {
  return CustodyEventOf(e.body, e.signer, e.receipt, e.receipt_hash, lot_id);
}

// The shipment record from the shipment events in one of its lots' history.
void ApplyShipmentEvent(v1::Shipment& s, const Entry& e) {
  switch (e.body.action_case()) {
    case v1::TxBody::kFormShipment:
      s.set_exporter_key(e.signer);
      *s.mutable_lot_ids() = e.body.form_shipment().lot_ids();
      s.set_destination_country(e.body.form_shipment().destination_country());
      s.set_note(e.body.form_shipment().note());
      s.set_status(v1::SHIPMENT_STATUS_FORMED);
      s.set_formed_at_ms(e.receipt.block_time_ms());
      s.set_formed_height(e.receipt.height());
      break;
    case v1::TxBody::kReviewShipment: {
      const v1::ReviewShipment& a = e.body.review_shipment();
      s.set_reviewed_by(e.signer);
      if (a.issue()) {
        s.set_status(v1::SHIPMENT_STATUS_CERTIFIED);
        v1::Certificate* c = s.mutable_certificate();
        c->set_number(a.certificate_number());
        c->set_date_ms(a.certificate_date_ms());
        c->set_certifier_key(e.signer);
        c->set_height(e.receipt.height());
        s.clear_refusal_reason();
      } else {
        s.set_status(v1::SHIPMENT_STATUS_CERTIFICATE_REFUSED);
        s.set_refusal_reason(a.reason());
      }
      break;
    }
    case v1::TxBody::kDispatchShipment:
      s.set_status(v1::SHIPMENT_STATUS_DISPATCHED);
      s.set_smelter_key(e.body.dispatch_shipment().smelter_key());
      s.set_dispatched_at_ms(e.receipt.block_time_ms());
      break;
    case v1::TxBody::kReceiveShipment:
      s.set_status(v1::SHIPMENT_STATUS_RECEIVED);
      s.set_received_weight_grams(e.body.receive_shipment().weight_grams());
      s.set_received_at_ms(e.receipt.block_time_ms());
      break;
    case v1::TxBody::kCancelShipment:
      s.set_status(v1::SHIPMENT_STATUS_CANCELLED);
      break;
    default:
      break;
  }
}

// A field this verifier does not know anywhere in `m` (protobuf keeps unknown fields when it
// parses). Recursion is bounded by the message types' nesting, which has no cycles here.
bool HasUnknownFields(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* reflection = m.GetReflection();
  if (!reflection->GetUnknownFields(m).empty()) return true;
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!f->is_repeated()) {
      if (HasUnknownFields(reflection->GetMessage(m, f))) return true;
      continue;
    }
    for (int i = 0; i < reflection->FieldSize(m, f); ++i) {
      if (HasUnknownFields(reflection->GetRepeatedMessage(m, f, i))) return true;
    }
  }
  return false;
}

// Step 6: the context txs (bundle_context.h). `graph` holds the verified graph txs, `lots` the
// lots rebuilt from them (their site_status_at_record is set here); members and sites are
// added to `out.provenance`.
Result<void> VerifyContext(const v1::ProvenanceProof& bundle, const std::vector<Entry>& graph,
                           const std::map<std::string, std::vector<size_t>>& histories,
                           std::map<std::string, v1::Lot>& lots, const v1::Genesis& trusted,
                           const CertifiedLedgerRoot& root, VerifiedProvenance& out) {
  std::set<std::string> named_keys;
  std::set<std::string> named_sites;
  for (const Entry& e : graph) {
    AddMemberKeysNamedBy(e.body, e.signer, named_keys);
    if (e.body.action_case() == v1::TxBody::kRecordMineLot) {
      named_sites.insert(e.body.record_mine_lot().site_id());
    }
  }
  std::map<std::string, std::string> administrators;  // key -> name, from the trusted genesis
  for (const v1::GenesisMember& a : trusted.administrators()) administrators[a.key()] = a.name();

  std::vector<Entry> context;
  context.reserve(bundle.context_txs_size());
  std::map<std::string, size_t> member_registration;  // key -> index in context
  std::map<std::string, size_t> site_registration;
  std::map<std::string, std::vector<size_t>> site_status_txs;  // site -> indexes, leaf order
  for (int i = 0; i < bundle.context_txs_size(); ++i) {
    auto checked = CheckTx(bundle.context_txs(i), static_cast<size_t>(i), bundle.chain_id(), root);
    if (!checked) {
      return tl::unexpected(Invalid("context " + checked.error().message));
    }
    Entry e = std::move(*checked);
    const std::string name = "context " + TxName(e);
    if (!context.empty() && e.receipt.leaf_index() <= context.back().receipt.leaf_index()) {
      return tl::unexpected(Invalid(name + " follows leaf " +
                                    std::to_string(context.back().receipt.leaf_index()) +
                                    ": context txs must be in strictly increasing leaf order"));
    }
    const size_t k = context.size();
    switch (e.body.action_case()) {
      case v1::TxBody::kRegisterMember: {
        const std::string& key = e.body.register_member().member_key();
        if (named_keys.count(key) == 0 || administrators.count(key) != 0) {
          return tl::unexpected(Invalid(name + " registers " + KeyName(key) +
                                        ", whom no tx of the graph names: an unused tx"));
        }
        if (!member_registration.emplace(key, k).second) {
          return tl::unexpected(Invalid(name + " registers " + KeyName(key) + " a second time"));
        }
        break;
      }
      case v1::TxBody::kRegisterMineSite: {
        const std::string& site = e.body.register_mine_site().site_id();
        if (named_sites.count(site) == 0) {
          return tl::unexpected(Invalid(name + " registers site '" + site +
                                        "', of no mine lot in the graph: an unused tx"));
        }
        if (!site_registration.emplace(site, k).second) {
          return tl::unexpected(Invalid(name + " registers site '" + site + "' a second time"));
        }
        break;
      }
      case v1::TxBody::kRecordInspection:
      case v1::TxBody::kSetSiteStatus:
        site_status_txs[SiteIdOf(e.body)].push_back(k);
        break;
      default:
        return tl::unexpected(Invalid(name + " is no registration, inspection or site status tx: " +
                                      "it has no place among the context txs"));
    }
    context.push_back(std::move(e));
  }

  // Each mine lot's site status at record; the status txs it rests on are used.
  std::vector<bool> used(context.size(), false);
  for (const auto& [site, k] : site_registration) used[k] = true;
  for (const auto& [key, k] : member_registration) used[k] = true;
  auto as_status_tx = [&](const Entry& e) {
    SiteStatusTx t;
    t.leaf_index = e.receipt.leaf_index();
    t.height = e.receipt.height();
    t.block_time_ms = e.receipt.block_time_ms();
    t.body = &e.body;
    return t;
  };
  for (const auto& [lot_id, history] : histories) {
    const Entry& creation = graph[history.front()];
    if (creation.body.action_case() != v1::TxBody::kRecordMineLot) continue;
    const std::string& site = creation.body.record_mine_lot().site_id();
    auto reg = site_registration.find(site);
    if (reg == site_registration.end()) continue;  // not shown: "?"
    std::vector<SiteStatusTx> status_txs;
    const std::vector<size_t>& indexes = site_status_txs[site];
    for (size_t k : indexes) status_txs.push_back(as_status_tx(context[k]));
    const SiteStatusAtRecord at =
        SiteStatusAt(as_status_tx(context[reg->second]), status_txs,
                     creation.receipt.leaf_index(), creation.receipt.block_time_ms());
    if (at.inspection) used[indexes[*at.inspection]] = true;
    if (at.status_change) used[indexes[*at.status_change]] = true;
    const Entry& decided = context[at.decided_by ? indexes[*at.decided_by] : reg->second];
    lots[lot_id].set_site_status_at_record(at.status);
    out.site_status_evidence[lot_id] = {decided.action, decided.receipt.height()};
  }
  for (const Entry& e : context) {
    if (!used[e.position]) {
      return tl::unexpected(Invalid(
          "context " + TxName(e) + " of site '" + SiteIdOf(e.body) +
          "' is not the latest inspection or status change before any mine lot's record in the "
          "bundle: an unused tx"));
    }
  }

  // Members the tree names, in leaf order of their registration; then genesis administrators.
  for (const Entry& e : context) {
    if (e.body.action_case() == v1::TxBody::kRegisterMember) {
      const v1::RegisterMember& a = e.body.register_member();
      v1::Member* m = out.provenance.add_members();
      m->set_key(a.member_key());
      m->set_name(a.name());
      *m->mutable_roles() = a.roles();
      m->set_country(a.country());
      m->set_registered_height(e.receipt.height());
    } else if (e.body.action_case() == v1::TxBody::kRegisterMineSite) {
      const v1::RegisterMineSite& a = e.body.register_mine_site();
      v1::MineSite* s = out.provenance.add_sites();
      s->set_site_id(a.site_id());
      s->set_name(a.name());
      s->set_country(a.country());
      s->set_latitude_microdeg(a.latitude_microdeg());
      s->set_longitude_microdeg(a.longitude_microdeg());
      *s->mutable_minerals() = a.minerals();
      s->set_production_estimate_kg_per_month(a.production_estimate_kg_per_month());
      s->set_registered_height(e.receipt.height());
    }
  }
  for (const auto& [key, name] : administrators) {
    if (named_keys.count(key) == 0) continue;
    v1::Member* m = out.provenance.add_members();
    m->set_key(key);
    m->set_name(name);
    m->add_roles(v1::ROLE_ADMINISTRATOR);
  }
  out.context_tx_count = context.size();
  return {};
}

}  // namespace

TrustedValidators TrustedValidatorsOf(const v1::Genesis& genesis) {
  TrustedValidators out;
  out.epoch = 0;
  for (const v1::GenesisValidator& v : genesis.validators()) {
    crypto::PublicKey key{};
    if (v.key().size() == key.size()) std::copy(v.key().begin(), v.key().end(), key.begin());
    out.keys.push_back(key);
  }
  return out;
}

Result<TrustedValidators> CheckBundleValidators(
    std::string_view what, uint32_t version, const std::string& chain_id, uint64_t epoch,
    const google::protobuf::RepeatedPtrField<std::string>& validator_keys,
    const v1::Genesis& trusted) {
  if (version != 1) {
    return tl::unexpected(Invalid(std::string(what) + " version " + std::to_string(version) +
                                  " is not supported (this verifier reads version 1)"));
  }
  if (chain_id != trusted.chain_id()) {
    return tl::unexpected(Invalid("the bundle is for chain '" + chain_id +
                                  "' but the trusted genesis is of chain '" + trusted.chain_id() +
                                  "'"));
  }
  TrustedValidators validators = TrustedValidatorsOf(trusted);
  if (epoch != validators.epoch) {
    return tl::unexpected(Invalid("the bundle's validator set is of epoch " +
                                  std::to_string(epoch) +
                                  "; only the genesis epoch 0 is known to this verifier"));
  }
  if (static_cast<size_t>(validator_keys.size()) != validators.keys.size()) {
    return tl::unexpected(Invalid(
        "the bundle names " + std::to_string(validator_keys.size()) +
        " validators but the trusted genesis has " + std::to_string(validators.keys.size())));
  }
  for (size_t i = 0; i < validators.keys.size(); ++i) {
    const std::string& key = validator_keys.Get(static_cast<int>(i));
    if (key != std::string(validators.keys[i].begin(), validators.keys[i].end())) {
      return tl::unexpected(Error{ErrorCode::kPermissionDenied,
                                  "validator " + std::to_string(i) + " of the bundle (" +
                                      Short(key) + "...) is not the trusted genesis validator " +
                                      std::to_string(i) + " (" +
                                      Short(HashString(validators.keys[i])) +
                                      "...): the bundle is signed by keys "
                                      "outside the trusted set"});
    }
  }
  return validators;
}

Result<VerifiedProvenance> VerifyProvenanceProof(const v1::ProvenanceProof& bundle,
                                                 const v1::Genesis& trusted) {
  if (HasUnknownFields(bundle)) {
    return tl::unexpected(Invalid(
        "the bundle holds fields this verifier does not know (it reads version 1 bundles): "
        "a changed or foreign file"));
  }
  // 1. The chain and the validator set.
  auto validators_checked =
      CheckBundleValidators("bundle", bundle.version(), bundle.chain_id(), bundle.epoch(),
                            bundle.validator_keys(), trusted);
  if (!validators_checked) return tl::unexpected(validators_checked.error());
  const TrustedValidators& validators = *validators_checked;

  // 2. The certified header and its ledger root.
  if (!bundle.has_header() || !bundle.has_qc() || !bundle.has_ledger_root()) {
    return tl::unexpected(Invalid("the bundle lacks its header, QC or ledger root"));
  }
  auto header = ConsensusHeaderFromProto(bundle.header());
  if (!header) return tl::unexpected(header.error());
  auto qc = QuorumCertFromProto(bundle.qc());
  if (!qc) return tl::unexpected(qc.error());
  auto certified = CheckCertifiedHeader(validators, *header, *qc);
  if (!certified) {
    return tl::unexpected(Error{certified.error().code,
                                "the certified header (block at height " +
                                    std::to_string(header->height) + ") is not certified by " +
                                    "the trusted validators: " + certified.error().message});
  }
  CertifiedLedgerRoot root;
  root.height = bundle.ledger_root().height();
  auto acc = Hash32FromBytes(AsBytes(bundle.ledger_root().accumulator_root()));
  if (!acc) return tl::unexpected(Invalid("ledger_root.accumulator_root is not 32 bytes"));
  root.accumulator_root = *acc;
  root.leaf_count = bundle.ledger_root().leaf_count();
  if (!(root == header->ledger_root)) {
    return tl::unexpected(
        Invalid("the bundle's ledger root (height " + std::to_string(root.height) + ", " +
                std::to_string(root.leaf_count) + " leaves, " + Short(root.accumulator_root) +
                "...) is not the one the certified header names (height " +
                std::to_string(header->ledger_root.height) + ", " +
                std::to_string(header->ledger_root.leaf_count) + " leaves, " +
                Short(header->ledger_root.accumulator_root) + "...)"));
  }

  // 3. Every tx, receipt and inclusion path.
  if (bundle.txs_size() == 0) return tl::unexpected(Invalid("the bundle holds no txs"));
  if (static_cast<size_t>(bundle.txs_size()) + static_cast<size_t>(bundle.context_txs_size()) >
      kMaxProofTxs) {
    return tl::unexpected(
        Invalid("the bundle holds more than " + std::to_string(kMaxProofTxs) + " txs"));
  }
  std::vector<Entry> entries;
  entries.reserve(bundle.txs_size());
  std::map<Hash32, size_t> by_receipt;
  std::map<std::string, std::vector<size_t>> by_lot;  // entries whose receipt links the lot
  for (int i = 0; i < bundle.txs_size(); ++i) {
    auto e = CheckTx(bundle.txs(i), static_cast<size_t>(i), bundle.chain_id(), root);
    if (!e) return tl::unexpected(e.error());
    if (!entries.empty() && e->receipt.leaf_index() <= entries.back().receipt.leaf_index()) {
      return tl::unexpected(Invalid(TxName(*e) + " follows leaf " +
                                    std::to_string(entries.back().receipt.leaf_index()) +
                                    ": txs must be in strictly increasing leaf order, each once"));
    }
    by_receipt[e->receipt_hash] = entries.size();
    for (const v1::LotLink& link : e->receipt.lot_links()) {
      by_lot[link.lot_id()].push_back(entries.size());
    }
    entries.push_back(std::move(*e));
  }

  // 4. The requested lots and their backward links.
  VerifiedProvenance out;
  std::vector<std::string> requested;
  std::optional<size_t> formation;
  if (!bundle.shipment_id().empty()) {
    if (bundle.lot_ids_size() > 0) {
      return tl::unexpected(Invalid("the bundle asks for both a shipment and lots"));
    }
    for (const Entry& e : entries) {
      if (e.body.action_case() == v1::TxBody::kFormShipment &&
          e.body.form_shipment().shipment_id() == bundle.shipment_id()) {
        if (formation) {
          return tl::unexpected(
              Invalid("shipment '" + bundle.shipment_id() + "' is formed twice in the bundle"));
        }
        formation = e.position;
      }
    }
    if (!formation) {
      return tl::unexpected(
          Invalid("the bundle holds no form_shipment of shipment '" + bundle.shipment_id() + "'"));
    }
    const auto& ids = entries[*formation].body.form_shipment().lot_ids();
    requested.assign(ids.begin(), ids.end());
  } else {
    requested.assign(bundle.lot_ids().begin(), bundle.lot_ids().end());
  }
  if (requested.empty()) return tl::unexpected(Invalid("the bundle names no lot or shipment"));

  // Each lot with the receipt its history is read back from.
  std::deque<std::pair<std::string, Hash32>> queue;
  std::set<std::string> queued;
  for (const std::string& id : requested) {
    if (!queued.insert(id).second) continue;
    auto it = by_lot.find(id);
    if (it == by_lot.end()) {
      return tl::unexpected(Invalid("the bundle holds no event of requested lot '" + id + "'"));
    }
    std::set<std::string> referenced;
    for (size_t k : it->second)
      referenced.insert(LinkFor(entries[k].receipt, id)->previous_receipt_hash());
    std::vector<size_t> heads;
    for (size_t k : it->second) {
      if (referenced.count(HashString(entries[k].receipt_hash)) == 0) heads.push_back(k);
    }
    if (heads.size() != 1) {
      return tl::unexpected(Invalid("requested lot '" + id + "' has " +
                                    std::to_string(heads.size()) +
                                    " latest events in the bundle; its history must be one "
                                    "chain of receipts"));
    }
    queue.emplace_back(id, entries[heads.front()].receipt_hash);
  }

  std::vector<bool> used(entries.size(), false);
  Tallies tallies;
  std::map<std::string, std::vector<size_t>> histories;  // oldest first
  std::vector<std::string> lot_order;
  std::set<size_t> processings;
  while (!queue.empty()) {
    auto [id, head] = std::move(queue.front());
    queue.pop_front();
    std::vector<size_t> chain;
    Hash32 cur = head;
    for (;;) {
      if (chain.size() > entries.size()) {
        return tl::unexpected(Invalid("the history of lot '" + id + "' loops"));
      }
      auto it = by_receipt.find(cur);
      if (it == by_receipt.end()) {
        const std::string after =
            chain.empty() ? std::string("the bundle") : TxName(entries[chain.back()]);
        return tl::unexpected(Invalid("lot '" + id + "': " + after +
                                      " links to a previous event (receipt " + Short(cur) +
                                      "...) that the bundle lacks: an upstream step is missing"));
      }
      const Entry& e = entries[it->second];
      const v1::LotLink* link = LinkFor(e.receipt, id);
      if (link == nullptr) {
        return tl::unexpected(Invalid("lot '" + id + "': " + TxName(e) +
                                      " is linked as its event but does not touch the lot"));
      }
      chain.push_back(it->second);
      used[it->second] = true;
      if (link->previous_receipt_hash().empty()) break;
      auto prev = Hash32FromBytes(AsBytes(link->previous_receipt_hash()));
      if (!prev) {
        return tl::unexpected(Invalid("lot '" + id + "': " + TxName(e) +
                                      " links a previous receipt hash that is not 32 bytes"));
      }
      cur = *prev;
    }
    std::reverse(chain.begin(), chain.end());
    const Entry& creation = entries[chain.front()];
    if (creation.body.action_case() == v1::TxBody::kProcessLots) {
      processings.insert(chain.front());
      for (const std::string& input : creation.body.process_lots().input_lot_ids()) {
        if (LinkFor(creation.receipt, input) == nullptr) {
          return tl::unexpected(Invalid("lot '" + id + "': " + TxName(creation) +
                                        " does not link its input lot '" + input + "'"));
        }
        if (queued.insert(input).second) queue.emplace_back(input, creation.receipt_hash);
      }
    }
    lot_order.push_back(id);
    histories[id] = std::move(chain);
  }
  for (const Entry& e : entries) {
    if (!used[e.position]) {
      return tl::unexpected(Invalid(TxName(e) +
                                    " is on no requested lot's history: the bundle must hold "
                                    "exactly the upstream graph"));
    }
  }

  // 5. The domain story: custody continuity, then mass balance of each processing.
  std::map<std::string, v1::Lot> lots;
  for (const std::string& id : lot_order) {
    v1::Lot lot;
    lot.set_lot_id(id);
    v1::ProvenanceLot* entry = out.provenance.add_lots();
    bool first = true;
    for (size_t k : histories[id]) {
      MT_TRY(ApplyEvent(lot, entries[k], first, tallies));
      *entry->add_events() = EventOf(entries[k], id);
      first = false;
    }
    lots[id] = lot;
  }
  // Creation leaves grow from parents to children, so this order sees parents first.
  std::vector<std::string> by_creation = lot_order;
  std::sort(by_creation.begin(), by_creation.end(),
            [&](const std::string& a, const std::string& b) {
              return entries[histories[a].front()].receipt.leaf_index() <
                     entries[histories[b].front()].receipt.leaf_index();
            });
  for (size_t k : processings) {
    const Entry& e = entries[k];
    uint64_t in_grams = 0;
    uint64_t out_grams = 0;
    for (const std::string& input : e.body.process_lots().input_lot_ids()) {
      in_grams += tallies.consumed_weight[input];
    }
    for (const auto& o : e.body.process_lots().outputs()) out_grams += o.weight_grams();
    if (out_grams > in_grams) {
      return tl::unexpected(Invalid("mass balance broken at " + TxName(e) + ": outputs weigh " +
                                    std::to_string(out_grams) + " g but the inputs only " +
                                    std::to_string(in_grams) + " g"));
    }
    for (const auto& o : e.body.process_lots().outputs()) {
      auto it = lots.find(o.tag_id());
      if (it == lots.end()) continue;
      it->second.set_processing_input_grams(in_grams);
      it->second.set_processing_loss_grams(in_grams - out_grams);
    }
  }
  for (const std::string& id : by_creation) {
    v1::Lot& lot = lots[id];
    if (lot.origin() != v1::LOT_ORIGIN_PROCESSING) continue;
    std::set<std::string> sites;
    for (const std::string& parent : lot.parent_lot_ids()) {
      const v1::Lot& p = lots[parent];
      lot.set_mineral(p.mineral());
      if (p.origin() == v1::LOT_ORIGIN_MINE) sites.insert(p.site_id());
      sites.insert(p.mine_site_ids().begin(), p.mine_site_ids().end());
    }
    *lot.mutable_mine_site_ids() = {sites.begin(), sites.end()};
  }
  // 6. The context: members, sites and the site status at each mine lot's record.
  MT_TRY(VerifyContext(bundle, entries, histories, lots, trusted, root, out));
  for (int i = 0; i < out.provenance.lots_size(); ++i) {
    v1::ProvenanceLot* entry = out.provenance.mutable_lots(i);
    *entry->mutable_lot() = lots[lot_order[static_cast<size_t>(i)]];
  }
  if (formation) {
    v1::Shipment s;
    s.set_shipment_id(bundle.shipment_id());
    uint64_t grams = 0;
    for (const std::string& id : requested) grams += tallies.formed_weight[id];
    s.set_weight_grams(grams);
    s.set_mineral(lots[requested.front()].mineral());
    for (size_t k : histories[requested.front()]) {
      if (k >= *formation && ShipmentIdOf(entries[k].body) == bundle.shipment_id()) {
        ApplyShipmentEvent(s, entries[k]);
      }
    }
    *out.provenance.mutable_shipment() = std::move(s);
  }

  out.chain_id = bundle.chain_id();
  out.ledger_root = root;
  out.certified_block_height = header->height;
  out.certified_round = header->round;
  out.certified_time_ms = header->timestamp_ms;
  out.signature_count = qc->votes.size();
  out.validator_count = validators.keys.size();
  out.tx_count = entries.size();
  return out;
}

}  // namespace minetrace::ledger::proof
