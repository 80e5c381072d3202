// Processing (domain.md rule 5, ICGLR lot model): a processor merges lots of one mineral into
// new lots, or splits one lot, each new lot with a processor tag and naming all its inputs.
#include <algorithm>
#include <set>

#include "execution.h"

namespace minetrace::ledger::detail {
namespace {

// Contained mineral (weight x grade) of up to 1000 lots of 1e8 g x 1e4 bp reaches 1e15; with
// the tolerance factor it passes 2^64, so it is compared in 128 bits.
__extension__ typedef unsigned __int128 Uint128;

}  // namespace

Result<void> Execution::ProcessLots(const v1::ProcessLots& a) {
  auto signer = RequireSigner({v1::ROLE_PROCESSOR}, "process lots");
  if (!signer) return tl::unexpected(signer.error());
  const bool merge = a.kind() == v1::PROCESSING_KIND_MERGE;
  if (!merge && a.kind() != v1::PROCESSING_KIND_SPLIT) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "processing kind must be merge or split"));
  }
  const size_t inputs = static_cast<size_t>(a.input_lot_ids().size());
  const size_t outputs = static_cast<size_t>(a.outputs().size());
  if (merge && (inputs == 0 || inputs > kMaxProcessingInputs)) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument,
               "a merge takes 1 to " + std::to_string(kMaxProcessingInputs) + " input lots"));
  }
  if (merge && (outputs == 0 || outputs > kMaxProcessingOutputs)) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument,
               "a merge makes 1 to " + std::to_string(kMaxProcessingOutputs) + " lots"));
  }
  if (!merge && inputs != 1) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument, "a split takes exactly one input lot"));
  }
  if (!merge && (outputs < 2 || outputs > kMaxProcessingOutputs)) {
    return tl::unexpected(
        Refuse(ErrorCode::kInvalidArgument,
               "a split makes 2 to " + std::to_string(kMaxProcessingOutputs) + " lots"));
  }
  MT_TRY(CheckText(a.note(), "note", 0, kMaxReasonChars));
  std::vector<std::string> input_ids(a.input_lot_ids().begin(), a.input_lot_ids().end());
  MT_TRY(CheckDistinct(input_ids));

  // Outputs: stateless checks first, so a typo is named before any lot is read.
  uint64_t out_grams = 0;
  std::set<std::string> output_ids;
  for (const auto& o : a.outputs()) {
    if (!output_ids.insert(o.tag_id()).second) {
      return tl::unexpected(
          Refuse(ErrorCode::kInvalidArgument, "output tag " + o.tag_id() + " is named twice"));
    }
    if (o.weight_grams() == 0 || o.weight_grams() > kMaxLotWeightGrams) {
      return tl::unexpected(
          Refuse(ErrorCode::kInvalidArgument,
                 "output lot '" + o.tag_id() + "': weight must be more than 0 and at most 100 t"));
    }
    if (o.grade_basis_points() > 10000) {
      return tl::unexpected(
          Refuse(ErrorCode::kInvalidArgument,
                 "output lot '" + o.tag_id() + "': grade must be 0 to 100 % (0 to 10000 bp)"));
    }
    out_grams += o.weight_grams();
  }

  // Inputs: held by the processor, of one mineral, in time order.
  std::vector<v1::Lot> input_lots;
  input_lots.reserve(inputs);
  uint64_t in_grams = 0;
  Uint128 in_contained = 0;
  std::set<std::string> mine_sites;
  for (const auto& id : input_ids) {
    auto lot = LoadLot(id);
    if (!lot) return tl::unexpected(lot.error());
    MT_TRY(CheckHeldBySigner(*lot, "process"));
    MT_TRY(CheckLotTime(*lot));
    if (!input_lots.empty() && lot->mineral() != input_lots.front().mineral()) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "lot '" + id + "' is " + MineralName(lot->mineral()) +
                                       " but lot '" + input_lots.front().lot_id() + "' is " +
                                       MineralName(input_lots.front().mineral()) +
                                       "; processing inputs are of one mineral"));
    }
    in_grams += lot->weight_grams();
    in_contained += static_cast<Uint128>(lot->weight_grams()) * lot->grade_basis_points();
    if (!lot->site_id().empty()) mine_sites.insert(lot->site_id());
    for (const auto& s : lot->mine_site_ids()) mine_sites.insert(s);
    input_lots.push_back(std::move(*lot));
  }
  if (merge && out_grams > in_grams) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "outputs weigh " + GramsText(out_grams) + ", more than the " +
                                     GramsText(in_grams) +
                                     " of the inputs; processing cannot create mass"));
  }
  if (!merge && out_grams != in_grams) {
    return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                 "split outputs weigh " + GramsText(out_grams) + " but lot '" +
                                     input_ids.front() + "' weighs " + GramsText(in_grams) +
                                     "; a split's outputs sum exactly to its input"));
  }

  // Output tags: the signer's unused processor tags, not yet a lot id.
  std::vector<v1::Tag> output_tags;
  output_tags.reserve(outputs);
  for (const auto& o : a.outputs()) {
    auto tag = view_.GetTag(o.tag_id());
    if (!tag) return tl::unexpected(tag.error());
    if (!tag->has_value()) {
      return tl::unexpected(
          Refuse(ErrorCode::kNotFound, "tag '" + o.tag_id() + "' was never allocated"));
    }
    const v1::Tag& t = **tag;
    if (t.kind() != v1::TAG_KIND_PROCESSOR) {
      return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                   "tag " + t.tag_id() + " is a mine tag of site '" + t.site_id() +
                                       "'; processing outputs need the processor's own tags"));
    }
    if (t.agent_key() != signer_) {
      v1::Anomaly an;
      an.set_kind("tag_off_agent");
      an.set_tag_id(t.tag_id());
      an.set_member_key(signer_);
      an.set_detail("processor " + ShortKey(signer_) + " used processor tag " + t.tag_id() +
                    " allocated to " + ShortKey(t.agent_key()));
      return RefuseFlagged(ErrorCode::kPermissionDenied,
                           "tag " + t.tag_id() + " is allocated to another processor",
                           std::move(an));
    }
    switch (t.status()) {
      case v1::TAG_STATUS_ALLOCATED:
        break;
      case v1::TAG_STATUS_USED:
        return tl::unexpected(Refuse(ErrorCode::kFailedPrecondition,
                                     "tag " + t.tag_id() + " is already used by lot '" +
                                         t.lot_id() + "'; a tag is used once"));
      default:
        return tl::unexpected(
            Refuse(ErrorCode::kFailedPrecondition,
                   "tag " + t.tag_id() + " is void or lost and can never be used"));
    }
    auto existing = view_.GetLot(t.tag_id());
    if (!existing) return tl::unexpected(existing.error());
    if (existing->has_value()) {
      return tl::unexpected(
          Refuse(ErrorCode::kAlreadyExists, "lot id '" + t.tag_id() + "' is already in use"));
    }
    output_tags.push_back(t);
  }

  // Grade jumps: more contained mineral out than in (merge), or a split output's grade off its
  // input's. Flagged, not refused: assays differ, but a large jump needs a look.
  const uint64_t loss_grams = in_grams - out_grams;
  if (merge) {
    Uint128 out_contained = 0;
    for (const auto& o : a.outputs()) {
      out_contained += static_cast<Uint128>(o.weight_grams()) * o.grade_basis_points();
    }
    if (out_contained * 10000 > in_contained * (10000 + kGradeJumpToleranceBasisPoints)) {
      v1::Anomaly an;
      an.set_kind("grade_jump");
      an.set_lot_id(a.outputs(0).tag_id());
      an.set_detail("merge of " + std::to_string(inputs) + " lots: outputs hold more " +
                    MineralName(input_lots.front().mineral()) +
                    " (weight x grade) than their inputs, beyond 2 %");
      RaiseAnomaly(std::move(an));
    }
  } else {
    const uint32_t in_grade = input_lots.front().grade_basis_points();
    for (const auto& o : a.outputs()) {
      uint32_t diff = o.grade_basis_points() > in_grade ? o.grade_basis_points() - in_grade
                                                        : in_grade - o.grade_basis_points();
      if (diff > kGradeJumpToleranceBasisPoints) {
        v1::Anomaly an;
        an.set_kind("grade_jump");
        an.set_lot_id(o.tag_id());
        an.set_detail("split of lot '" + input_ids.front() + "': output grade " +
                      std::to_string(o.grade_basis_points()) + " bp, input grade " +
                      std::to_string(in_grade) + " bp");
        RaiseAnomaly(std::move(an));
      }
    }
  }

  // Inputs are consumed (their lot links first, in request order), then the outputs made.
  std::vector<std::string> child_ids;
  for (const auto& o : a.outputs()) child_ids.push_back(o.tag_id());
  for (const auto& in : input_lots) {
    v1::Lot next = in;
    next.set_status(v1::LOT_STATUS_CONSUMED);
    next.clear_holder_key();
    *next.mutable_child_lot_ids() = {child_ids.begin(), child_ids.end()};
    TouchLot(in, std::move(next));
  }
  for (size_t i = 0; i < outputs; ++i) {
    const v1::ProcessedOutput& o = a.outputs(static_cast<int>(i));
    v1::Lot lot;
    lot.set_lot_id(o.tag_id());
    lot.set_tag_id(o.tag_id());
    lot.set_mineral(input_lots.front().mineral());
    lot.set_weight_grams(o.weight_grams());
    lot.set_grade_basis_points(o.grade_basis_points());
    lot.set_recorded_by(signer_);
    lot.set_status(v1::LOT_STATUS_HELD);
    lot.set_holder_key(signer_);
    lot.set_created_device_time_ms(body_.created_at_ms());
    lot.set_created_height(ctx_.height);
    lot.set_origin(v1::LOT_ORIGIN_PROCESSING);
    lot.set_origin_weight_grams(o.weight_grams());
    *lot.mutable_parent_lot_ids() = {input_ids.begin(), input_ids.end()};
    *lot.mutable_mine_site_ids() = {mine_sites.begin(), mine_sites.end()};
    lot.set_processed_by(signer_);
    lot.set_processing_input_grams(in_grams);
    lot.set_processing_loss_grams(loss_grams);
    TouchLot(std::nullopt, std::move(lot));
    v1::Tag t = output_tags[i];
    t.set_status(v1::TAG_STATUS_USED);
    t.set_lot_id(o.tag_id());
    view_.PutTag(t);
  }
  return ChangeBalance(signer_, [&](v1::MassBalance& b) {
    b.set_processing_input_grams(b.processing_input_grams() + in_grams);
    b.set_processing_output_grams(b.processing_output_grams() + out_grams);
    b.set_processing_loss_grams(b.processing_loss_grams() + loss_grams);
  });
}

}  // namespace minetrace::ledger::detail
