#include "tx_build.h"

#include <array>

#include "parse.h"

namespace minetrace::cli {
namespace {

constexpr std::array<TxActionInfo, 9> kActions = {{
    {TxAction::kRegisterMember, "register-member", "Administrator: admit a member with its roles"},
    {TxAction::kSuspendMember, "suspend-member",
     "Administrator: suspend a member (a sanction); it can no longer act"},
    {TxAction::kReinstateMember, "reinstate-member", "Administrator: lift a suspension"},
    {TxAction::kRegisterSite, "register-site",
     "Administrator or regulator: register an inspected mine site"},
    {TxAction::kAllocateTags, "allocate-tags",
     "Administrator: allocate a range of single-use tags to an agent for one site"},
    {TxAction::kRecordLot, "record-lot",
     "Agent: record a weighed, tagged mine lot (the lot id is the tag id)"},
    {TxAction::kDispatch, "dispatch",
     "Holder: send lots to a named receiver; they are in transit until received"},
    {TxAction::kReceive, "receive", "Receiver: accept lots in transit to you, with their weights"},
    {TxAction::kCancelDispatch, "cancel-dispatch",
     "Sender: take back lots in transit that were not yet received"},
}};

Result<void> Require(bool given, std::string_view flag) {
  if (given) return {};
  return MakeError(ErrorCode::kInvalidArgument, std::string(flag) + " is required");
}

Result<std::string> KeyBytes(std::string_view arg, std::string_view flag) {
  MT_TRY(Require(!arg.empty(), flag));
  auto key = ParseKeyArgument(arg, flag);
  if (!key) return tl::unexpected(key.error());
  return std::string(key->begin(), key->end());
}

Result<void> BuildRegisterMember(const TxArgs& a, v1::RegisterMember& out) {
  auto key = KeyBytes(a.member, "--member");
  if (!key) return tl::unexpected(key.error());
  MT_TRY(Require(!a.name.empty(), "--name"));
  MT_TRY(Require(!a.roles.empty(), "--role"));
  out.set_member_key(*key);
  out.set_name(a.name);
  for (const std::string& r : a.roles) {
    auto role = ParseRole(r);
    if (!role) return MakeError(ErrorCode::kInvalidArgument, "--role: " + role.error().message);
    out.add_roles(*role);
  }
  out.set_country(a.country);
  return {};
}

Result<void> BuildRegisterSite(const TxArgs& a, v1::RegisterMineSite& out) {
  MT_TRY(Require(!a.site_id.empty(), "--site-id"));
  MT_TRY(Require(!a.name.empty(), "--name"));
  MT_TRY(Require(!a.country.empty(), "--country"));
  MT_TRY(Require(!a.minerals.empty(), "--mineral"));
  MT_TRY(Require(!a.site_status.empty(), "--status"));
  out.set_site_id(a.site_id);
  out.set_name(a.name);
  out.set_country(a.country);
  // A position is both coordinates or none: half a position would put the site on the
  // equator or the prime meridian without anyone noticing.
  if (a.latitude.empty() != a.longitude.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "--lat and --lon go together");
  }
  if (!a.latitude.empty()) {
    auto lat = ParseMicrodegrees(a.latitude, 90, "--lat");
    if (!lat) return tl::unexpected(lat.error());
    auto lon = ParseMicrodegrees(a.longitude, 180, "--lon");
    if (!lon) return tl::unexpected(lon.error());
    out.set_latitude_microdeg(*lat);
    out.set_longitude_microdeg(*lon);
  }
  for (const std::string& m : a.minerals) {
    auto mineral = ParseMineral(m);
    if (!mineral) {
      return MakeError(ErrorCode::kInvalidArgument, "--mineral: " + mineral.error().message);
    }
    out.add_minerals(*mineral);
  }
  auto status = ParseSiteStatus(a.site_status);
  if (!status) return MakeError(ErrorCode::kInvalidArgument, "--status: " + status.error().message);
  out.set_status(*status);
  out.set_production_estimate_kg_per_month(a.estimate_kg_per_month);
  return {};
}

Result<void> BuildAllocateTags(const TxArgs& a, v1::AllocateTags& out) {
  MT_TRY(Require(!a.site_id.empty(), "--site-id"));
  auto agent = KeyBytes(a.agent, "--agent");
  if (!agent) return tl::unexpected(agent.error());
  MT_TRY(Require(!a.prefix.empty(), "--prefix"));
  if (a.count == 0 || a.count > 10000) {
    return MakeError(ErrorCode::kInvalidArgument, "--count must be between 1 and 10000");
  }
  out.set_site_id(a.site_id);
  out.set_agent_key(*agent);
  out.set_prefix(a.prefix);
  out.set_first(a.first);
  out.set_count(a.count);
  return {};
}

Result<void> BuildRecordLot(const TxArgs& a, v1::RecordMineLot& out) {
  MT_TRY(Require(!a.tag.empty(), "--tag"));
  MT_TRY(Require(!a.site_id.empty(), "--site-id"));
  MT_TRY(Require(!a.mineral.empty(), "--mineral"));
  auto mineral = ParseMineral(a.mineral);
  if (!mineral) {
    return MakeError(ErrorCode::kInvalidArgument, "--mineral: " + mineral.error().message);
  }
  MT_TRY(Require(!a.weight_kg.empty(), "--weight-kg"));
  auto grams = ParseWeightGrams(a.weight_kg, "--weight-kg");
  if (!grams) return tl::unexpected(grams.error());
  MT_TRY(Require(!a.grade_percent.empty(), "--grade-percent"));
  auto grade = ParseGradeBasisPoints(a.grade_percent, "--grade-percent");
  if (!grade) return tl::unexpected(grade.error());
  auto producer = KeyBytes(a.producer, "--producer");
  if (!producer) return tl::unexpected(producer.error());
  out.set_tag_id(a.tag);
  out.set_site_id(a.site_id);
  out.set_mineral(*mineral);
  out.set_weight_grams(*grams);
  out.set_grade_basis_points(*grade);
  out.set_producer_key(*producer);
  return {};
}

Result<void> RequireLotIds(const std::vector<std::string>& lots) {
  MT_TRY(Require(!lots.empty(), "--lot"));
  for (const std::string& id : lots) {
    if (id.empty()) return MakeError(ErrorCode::kInvalidArgument, "--lot: empty lot id");
  }
  return {};
}

}  // namespace

std::span<const TxActionInfo> AllTxActions() { return kActions; }

Result<v1::TxBody> BuildTxAction(TxAction action, const TxArgs& a) {
  v1::TxBody body;
  switch (action) {
    case TxAction::kRegisterMember:
      MT_TRY(BuildRegisterMember(a, *body.mutable_register_member()));
      break;
    case TxAction::kSuspendMember: {
      auto key = KeyBytes(a.member, "--member");
      if (!key) return tl::unexpected(key.error());
      // A sanction without a stated reason cannot be reviewed later.
      MT_TRY(Require(!a.reason.empty(), "--reason"));
      body.mutable_suspend_member()->set_member_key(*key);
      body.mutable_suspend_member()->set_reason(a.reason);
      break;
    }
    case TxAction::kReinstateMember: {
      auto key = KeyBytes(a.member, "--member");
      if (!key) return tl::unexpected(key.error());
      body.mutable_reinstate_member()->set_member_key(*key);
      body.mutable_reinstate_member()->set_reason(a.reason);
      break;
    }
    case TxAction::kRegisterSite:
      MT_TRY(BuildRegisterSite(a, *body.mutable_register_mine_site()));
      break;
    case TxAction::kAllocateTags:
      MT_TRY(BuildAllocateTags(a, *body.mutable_allocate_tags()));
      break;
    case TxAction::kRecordLot:
      MT_TRY(BuildRecordLot(a, *body.mutable_record_mine_lot()));
      break;
    case TxAction::kDispatch: {
      MT_TRY(RequireLotIds(a.lots));
      auto to = KeyBytes(a.to, "--to");
      if (!to) return tl::unexpected(to.error());
      v1::DispatchLots& d = *body.mutable_dispatch_lots();
      for (const std::string& id : a.lots) d.add_lot_ids(id);
      d.set_receiver_key(*to);
      d.set_delivery_note(a.note);
      break;
    }
    case TxAction::kReceive: {
      MT_TRY(Require(!a.lots.empty(), "--lot"));
      v1::ReceiveLots& r = *body.mutable_receive_lots();
      for (const std::string& arg : a.lots) {
        auto lot = ParseReceivedLot(arg);
        if (!lot) return tl::unexpected(lot.error());
        *r.add_lots() = *lot;
      }
      break;
    }
    case TxAction::kCancelDispatch: {
      MT_TRY(RequireLotIds(a.lots));
      v1::CancelDispatch& c = *body.mutable_cancel_dispatch();
      for (const std::string& id : a.lots) c.add_lot_ids(id);
      c.set_reason(a.reason);
      break;
    }
  }
  return body;
}

}  // namespace minetrace::cli
