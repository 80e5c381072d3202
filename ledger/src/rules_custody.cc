// Tags, mine lots and the custody of lots between members (domain.md rules 2, 3, 4, 7):
// AllocateTags, ReportTags, RecordMineLot, DispatchLots, ReceiveLots, CancelDispatch.
#include <algorithm>
#include <cstdio>
#include <set>

#include "execution.h"

namespace minetrace::ledger::detail {

Result<void> Execution::AllocateTags(const v1::AllocateTags& a) {
  auto signer = RequireSigner({v1::ROLE_ADMINISTRATOR}, "allocate tags");
  if (!signer) return tl::unexpected(signer.error());
  if (!IsIdentifier(a.prefix(), 16)) {
    return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                 "tag prefix must be 1 to 16 letters, digits, '-', '_' or '.'"));
  }
  if (a.count() == 0 || a.count() > kMaxTagsPerAllocation) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument,
               "tag count must be 1 to " + std::to_string(kMaxTagsPerAllocation)));
  }
  if (a.first() >= 10'000'000 || a.count() > 10'000'000 - a.first()) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "tag numbers are at most 7 digits (< 10000000)"));
  }
  if (!v1::TagKind_IsValid(a.kind())) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "unknown tag kind " + std::to_string(a.kind())));
  }
  if (a.kind() == v1::TAG_KIND_PROCESSOR) {
    // Processor tags mark the lots processing makes: they belong to a processor, no site.
    if (!a.site_id().empty()) {
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument,
                                   "processor tags belong to no site: leave site_id empty"));
    }
    auto processor = RequireCounterpart(a.agent_key(), {v1::ROLE_PROCESSOR}, "processor");
    if (!processor) return tl::unexpected(processor.error());
  } else {
    if (a.site_id().empty()) {
      return tl::unexpected(
          Refuse(ErrorCode::kInvalidArgument, "mine tags are allocated for a site: set site_id"));
    }
    auto site = LoadSite(a.site_id());
    if (!site) return tl::unexpected(site.error());
    if (site->tags_withdrawn()) {
      return tl::unexpected(Refuse(
          ErrorCode::kFailedPrecondition,
          "tags of site '" + a.site_id() + "' are withdrawn: no new tags until they are restored"));
    }
    if (EffectiveSiteStatus(*site, ctx_.block_time_ms) == v1::SITE_STATUS_RED) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "site '" + a.site_id() + "' is red: no tags for it"));
    }
    auto agent = RequireCounterpart(a.agent_key(), {v1::ROLE_AGENT}, "agent");
    if (!agent) return tl::unexpected(agent.error());
  }
  for (uint64_t n = a.first(); n < a.first() + a.count(); ++n) {
    char digits[24];
    std::snprintf(digits, sizeof digits, "%07llu", static_cast<unsigned long long>(n));
    std::string tag_id = a.prefix() + digits;
    auto existing = view_.GetTag(tag_id);
    if (!existing) return tl::unexpected(existing.error());
    if (existing->has_value()) {
      const v1::Tag& old = **existing;
      std::string where = old.kind() == v1::TAG_KIND_PROCESSOR ? "as a processor tag"
                                                               : "to site '" + old.site_id() + "'";
      return tl::unexpected(Refuse(
          ErrorCode::kAlreadyExists,
          "tag " + tag_id + " is already allocated (" + where + "); a tag is allocated once"));
    }
    v1::Tag t;
    t.set_tag_id(tag_id);
    t.set_site_id(a.site_id());
    t.set_agent_key(a.agent_key());
    t.set_status(v1::TAG_STATUS_ALLOCATED);
    t.set_allocated_height(ctx_.height);
    t.set_kind(a.kind());
    view_.PutTag(t);
  }
  return {};
}

Result<void> Execution::CheckTagNotWithdrawn(const v1::Tag& tag, const v1::MineSite& site) {
  if (site.tags_withdrawn_height() > 0 && tag.allocated_height() <= site.tags_withdrawn_height()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "tag " + tag.tag_id() + " was withdrawn with the tags of site '" +
                                     site.site_id() + "' at height " +
                                     std::to_string(site.tags_withdrawn_height()) +
                                     " and can never be used"));
  }
  return {};
}

Result<void> Execution::ReportTags(const v1::ReportTags& a) {
  auto signer = RequireSigner({}, "report tags");
  if (!signer) return tl::unexpected(signer.error());
  if (a.status() != v1::TAG_STATUS_LOST && a.status() != v1::TAG_STATUS_VOID) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "tags are reported lost or void, nothing else"));
  }
  if (a.tag_ids().empty() || static_cast<size_t>(a.tag_ids().size()) > kMaxLotsPerTx) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument,
               "report 1 to " + std::to_string(kMaxLotsPerTx) + " tags per transaction"));
  }
  MT_TRY(CheckText(a.reason(), "reason", 0, kMaxReasonChars));
  const bool administrator = HasRole(*signer, v1::ROLE_ADMINISTRATOR);
  const std::string status_word = a.status() == v1::TAG_STATUS_LOST ? "lost" : "void";
  std::set<std::string> seen;
  for (const auto& id : a.tag_ids()) {
    if (!seen.insert(id).second) {
      return tl::unexpected(Refuse(ErrorCode::kInvalidArgument, "tag " + id + " is named twice"));
    }
    auto tag = view_.GetTag(id);
    if (!tag) return tl::unexpected(tag.error());
    if (!tag->has_value()) {
      return tl::unexpected(Refuse(ErrorCode::kNotFound, "tag '" + id + "' was never allocated"));
    }
    v1::Tag t = **tag;
    if (t.agent_key() != signer_ && !administrator) {
      return tl::unexpected(
          Refuse(ErrorCode::kPermissionDenied, "tag " + id +
                                                   " is allocated to another member; only its "
                                                   "holder or an administrator may report it"));
    }
    switch (t.status()) {
      case v1::TAG_STATUS_ALLOCATED:
        break;
      case v1::TAG_STATUS_USED:
        return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                     "tag " + id + " is already used by lot '" + t.lot_id() +
                                         "' and cannot be reported " + status_word));
      default:
        return tl::unexpected(Refuse(
            ErrorCode::kFailedPrecondition,
            "tag " + id + " was already reported " +
                (t.status() == v1::TAG_STATUS_LOST ? std::string("lost") : std::string("void"))));
    }
    t.set_status(a.status());
    t.set_status_reason(a.reason());
    view_.PutTag(t);
  }
  return {};
}

Result<void> Execution::RecordMineLot(const v1::RecordMineLot& a) {
  auto signer = RequireSigner({v1::ROLE_AGENT}, "record mine lots");
  if (!signer) return tl::unexpected(signer.error());
  if (a.weight_grams() == 0 || a.weight_grams() > kMaxLotWeightGrams) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "lot weight must be more than 0 and at most 100 t"));
  }
  if (a.grade_basis_points() > 10000) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "grade must be 0 to 100 % (0 to 10000 bp)"));
  }
  auto tag = view_.GetTag(a.tag_id());
  if (!tag) return tl::unexpected(tag.error());
  if (!tag->has_value()) {
    return tl::unexpected(
        Refuse(ErrorCode::kNotFound, "tag '" + a.tag_id() + "' was never allocated"));
  }
  v1::Tag t = **tag;
  if (t.kind() != v1::TAG_KIND_MINE) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition, "tag " + t.tag_id() +
                                                   " is a processor tag; a mine lot needs "
                                                   "a mine tag of its site"));
  }
  if (t.agent_key() != signer_) {
    v1::Anomaly an;
    an.set_kind("tag_off_agent");
    an.set_tag_id(t.tag_id());
    // The tag's own site, which exists; the site the agent claimed is only text here.
    an.set_site_id(t.site_id());
    an.set_member_key(signer_);
    an.set_detail("agent " + ShortKey(signer_) + " used tag " + t.tag_id() + " of site '" +
                  t.site_id() + "', allocated to agent " + ShortKey(t.agent_key()));
    return RefuseFlagged(ErrorCode::kPermissionDenied,
                         "tag " + t.tag_id() + " is allocated to another agent", std::move(an));
  }
  switch (t.status()) {
    case v1::TAG_STATUS_ALLOCATED:
      break;
    case v1::TAG_STATUS_USED:
      return tl::unexpected(
          Refuse(ErrorCode::kFailedPrecondition, "tag " + t.tag_id() + " is already used by lot '" +
                                                     t.lot_id() + "'; a tag is used once"));
    default:
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "tag " + t.tag_id() + " is void or lost and can never be used"));
  }
  if (t.site_id() != a.site_id()) {
    v1::Anomaly an;
    an.set_kind("tag_off_site");
    an.set_tag_id(t.tag_id());
    an.set_site_id(t.site_id());
    an.set_member_key(signer_);
    an.set_detail("tag " + t.tag_id() + " of site '" + t.site_id() + "' used for a lot of site '" +
                  a.site_id() + "'");
    return RefuseFlagged(ErrorCode::kFailedPrecondition,
                         "tag " + t.tag_id() + " is allocated to site '" + t.site_id() +
                             "', not '" + a.site_id() + "'",
                         std::move(an));
  }
  auto site = LoadSite(a.site_id());
  if (!site) return tl::unexpected(site.error());
  const v1::MineSite& s = *site;
  MT_TRY(CheckTagNotWithdrawn(t, s));
  if (s.tags_withdrawn()) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition, "tags of site '" + s.site_id() + "' are withdrawn"));
  }
  const v1::SiteStatus status = EffectiveSiteStatus(s, ctx_.block_time_ms);
  if (status == v1::SITE_STATUS_RED) {
    return tl::unexpected(
        Refuse(ErrorCode::kFailedPrecondition,
               "site '" + s.site_id() + "' is red: no mine lots may be recorded"));
  }
  if (std::find(s.minerals().begin(), s.minerals().end(), a.mineral()) == s.minerals().end()) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "site '" + s.site_id() + "' does not declare the mineral " +
                                     v1::Mineral_Name(a.mineral())));
  }
  auto producer = RequireCounterpart(a.producer_key(), {v1::ROLE_COOPERATIVE}, "producer");
  if (!producer) return tl::unexpected(producer.error());
  auto existing = view_.GetLot(a.tag_id());
  if (!existing) return tl::unexpected(existing.error());
  if (existing->has_value()) {
    return tl::unexpected(
        Refuse(ErrorCode::kAlreadyExists, "lot id '" + a.tag_id() + "' is already in use"));
  }

  v1::Lot lot;
  lot.set_lot_id(a.tag_id());
  lot.set_tag_id(a.tag_id());
  lot.set_site_id(a.site_id());
  lot.set_mineral(a.mineral());
  lot.set_weight_grams(a.weight_grams());
  lot.set_grade_basis_points(a.grade_basis_points());
  lot.set_producer_key(a.producer_key());
  lot.set_recorded_by(signer_);
  lot.set_status(v1::LOT_STATUS_HELD);
  lot.set_holder_key(a.producer_key());
  lot.set_created_device_time_ms(body_.created_at_ms());
  lot.set_created_height(ctx_.height);
  lot.set_origin(v1::LOT_ORIGIN_MINE);
  lot.set_origin_weight_grams(a.weight_grams());
  lot.set_site_status_at_record(status);
  TouchLot(std::nullopt, lot);

  t.set_status(v1::TAG_STATUS_USED);
  t.set_lot_id(lot.lot_id());
  view_.PutTag(t);
  MT_TRY(ChangeBalance(a.producer_key(), [&](v1::MassBalance& b) {
    b.set_produced_grams(b.produced_grams() + a.weight_grams());
  }));

  // Anomaly: tagged volume this month above the site's production estimate.
  std::string volume_key = keys::SiteMonthVolume(s.site_id(), ctx_.block_time_ms);
  auto raw = view_.Get(Column::kState, volume_key);
  if (!raw) return tl::unexpected(raw.error());
  uint64_t grams = raw->has_value() ? ReadBigEndian64(**raw) : 0;
  grams += a.weight_grams();
  view_.Put(Column::kState, volume_key, keys::Be64(grams));
  uint64_t estimate_grams = s.production_estimate_kg_per_month() * 1000;
  if (estimate_grams > 0 && grams > estimate_grams) {
    v1::Anomaly an;
    an.set_kind("site_volume_above_estimate");
    an.set_lot_id(lot.lot_id());
    an.set_site_id(s.site_id());
    an.set_detail("site '" + s.site_id() + "' tagged " + GramsText(grams) +
                  " this month, above its estimate of " + GramsText(estimate_grams));
    RaiseAnomaly(std::move(an));
  }
  return {};
}

Result<void> Execution::DispatchLots(const v1::DispatchLots& a) {
  auto signer =
      RequireSigner({v1::ROLE_COOPERATIVE, v1::ROLE_TRADER, v1::ROLE_PROCESSOR, v1::ROLE_EXPORTER},
                    "dispatch lots");
  if (!signer) return tl::unexpected(signer.error());
  std::vector<std::string> ids(a.lot_ids().begin(), a.lot_ids().end());
  MT_TRY(CheckDistinct(ids));
  if (a.receiver_key() == signer_) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "a holder cannot dispatch lots to itself"));
  }
  // Smelters are not receivers of lots: metal reaches a smelter only in an export shipment,
  // which leaves only with its ICGLR certificate (rule 6).
  auto receiver = RequireCounterpart(
      a.receiver_key(), {v1::ROLE_TRADER, v1::ROLE_PROCESSOR, v1::ROLE_EXPORTER}, "receiver");
  if (!receiver) return tl::unexpected(receiver.error());
  uint64_t total_grams = 0;
  for (const auto& id : ids) {
    auto lot = LoadLot(id);
    if (!lot) return tl::unexpected(lot.error());
    MT_TRY(CheckHeldBySigner(*lot, "dispatch"));
    MT_TRY(CheckLotTime(*lot));
    v1::Lot next = *lot;
    next.set_status(v1::LOT_STATUS_IN_TRANSIT);
    next.clear_holder_key();
    next.set_dispatched_by(signer_);
    next.set_dispatched_to(a.receiver_key());
    next.set_dispatched_weight_grams(lot->weight_grams());
    total_grams += lot->weight_grams();
    TouchLot(*lot, std::move(next));
  }
  return ChangeBalance(signer_, [&](v1::MassBalance& b) {
    b.set_dispatched_grams(b.dispatched_grams() + total_grams);
  });
}

Result<void> Execution::ReceiveLots(const v1::ReceiveLots& a) {
  auto signer =
      RequireSigner({v1::ROLE_TRADER, v1::ROLE_PROCESSOR, v1::ROLE_EXPORTER}, "receive lots");
  if (!signer) return tl::unexpected(signer.error());
  std::vector<std::string> ids;
  for (const auto& r : a.lots()) ids.push_back(r.lot_id());
  MT_TRY(CheckDistinct(ids));
  uint64_t total_grams = 0;
  for (const auto& r : a.lots()) {
    if (r.weight_grams() == 0 || r.weight_grams() > kMaxLotWeightGrams) {
      return tl::unexpected(Refuse(
          ErrorCode::kInvalidArgument,
          "lot '" + r.lot_id() + "': received weight must be more than 0 and at most 100 t"));
    }
    auto lot = LoadLot(r.lot_id());
    if (!lot) return tl::unexpected(lot.error());
    if (lot->status() != v1::LOT_STATUS_IN_TRANSIT || lot->dispatched_to() != signer_) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "lot '" + r.lot_id() +
                                       "' is not in transit to the signer; only the named "
                                       "receiver may receive it"));
    }
    MT_TRY(CheckLotTime(*lot));
    uint64_t sent = lot->dispatched_weight_grams();
    uint64_t diff = sent > r.weight_grams() ? sent - r.weight_grams() : r.weight_grams() - sent;
    if (diff * 10000 > sent * kReceiptWeightToleranceBasisPoints) {
      v1::Anomaly an;
      an.set_kind("receipt_weight_mismatch");
      an.set_lot_id(r.lot_id());
      an.set_detail("dispatched " + GramsText(sent) + ", received " + GramsText(r.weight_grams()));
      RaiseAnomaly(std::move(an));
    }
    // Mass gained since the lot was made (weights <= 1e8 g: no overflow in 64 bits).
    uint64_t origin = lot->origin_weight_grams();
    if (origin > 0 && r.weight_grams() * 10000 > origin * (10000 + kMassGainToleranceBasisPoints)) {
      v1::Anomaly an;
      an.set_kind("mass_gain");
      an.set_lot_id(r.lot_id());
      an.set_detail("lot '" + r.lot_id() + "' weighed " + GramsText(origin) +
                    " when it was made and " + GramsText(r.weight_grams()) + " at receipt");
      RaiseAnomaly(std::move(an));
    }
    v1::Lot next = *lot;
    next.set_status(v1::LOT_STATUS_HELD);
    next.set_holder_key(signer_);
    next.set_weight_grams(r.weight_grams());
    next.clear_dispatched_by();
    next.clear_dispatched_to();
    next.clear_dispatched_weight_grams();
    total_grams += r.weight_grams();
    TouchLot(*lot, std::move(next));
  }
  return ChangeBalance(
      signer_, [&](v1::MassBalance& b) { b.set_received_grams(b.received_grams() + total_grams); });
}

Result<void> Execution::CancelDispatch(const v1::CancelDispatch& a) {
  auto signer =
      RequireSigner({v1::ROLE_COOPERATIVE, v1::ROLE_TRADER, v1::ROLE_PROCESSOR, v1::ROLE_EXPORTER},
                    "cancel dispatches");
  if (!signer) return tl::unexpected(signer.error());
  std::vector<std::string> ids(a.lot_ids().begin(), a.lot_ids().end());
  MT_TRY(CheckDistinct(ids));
  uint64_t total_grams = 0;
  for (const auto& id : ids) {
    auto lot = LoadLot(id);
    if (!lot) return tl::unexpected(lot.error());
    if (lot->status() != v1::LOT_STATUS_IN_TRANSIT || lot->dispatched_by() != signer_) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "lot '" + id +
                                       "' is not in transit from the signer; only its sender "
                                       "may cancel a dispatch"));
    }
    MT_TRY(CheckLotTime(*lot));
    v1::Lot next = *lot;
    next.set_status(v1::LOT_STATUS_HELD);
    next.set_holder_key(signer_);
    next.clear_dispatched_by();
    next.clear_dispatched_to();
    next.clear_dispatched_weight_grams();
    total_grams += lot->dispatched_weight_grams();
    TouchLot(*lot, std::move(next));
  }
  return ChangeBalance(signer_, [&](v1::MassBalance& b) {
    // The dispatch counted these grams; a ledger written before mass balances existed may
    // hold less, so never go below zero.
    b.set_dispatched_grams(b.dispatched_grams() - std::min(b.dispatched_grams(), total_grams));
  });
}

}  // namespace minetrace::ledger::detail
