// Internal to the ledger: the execution of one transaction, shared by the rules_*.cc files
// (each holds the actions of one part of the chain of custody). ExecuteTx in rules.h is the
// only way in. An Execution refers to the view, context and body it was made with; they
// must outlive it. Not thread-safe: one transaction, one thread.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "minetrace/base/assert.h"
#include "minetrace/base/result.h"
#include "minetrace/ledger/rules.h"
#include "minetrace/ledger/state.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::ledger::detail {

inline constexpr int64_t kDayMs = 24LL * 3600 * 1000;
inline constexpr size_t kMaxReasonChars = 1000;
inline constexpr size_t kMaxIncidentTextChars = 4000;
inline constexpr int kMaxIncidentNotes = 100;
// Mass gained along the chain and grade jumps in processing are flagged beyond 2 %.
inline constexpr uint64_t kMassGainToleranceBasisPoints = 200;
inline constexpr uint64_t kGradeJumpToleranceBasisPoints = 200;
// An export check walks at most this many upstream lots; a bigger graph is refused.
inline constexpr size_t kMaxUpstreamLots = 100'000;
inline constexpr uint64_t kMaxShipmentWeightGrams = 100'000'000'000;  // 100,000 t
inline constexpr size_t kMaxProcessingInputs = 1000;
inline constexpr size_t kMaxProcessingOutputs = 100;

Error Refuse(ErrorCode code, std::string message);
std::string ShortKey(std::string_view key);
std::string RoleName(v1::Role r);
bool HasRole(const v1::Member& m, v1::Role role);
bool IsCountryCode(std::string_view c);
bool IsIdentifier(std::string_view id, size_t max_len);
std::string GramsText(uint64_t grams);
// Lowercase names for messages: "green", "under mitigation", "cassiterite".
std::string SiteStatusName(v1::SiteStatus s);
std::string MineralName(v1::Mineral m);
std::string IncidentStatusName(v1::IncidentStatus s);
std::string IncidentCategoryName(v1::IncidentCategory c);
std::string IncidentOutcomeName(v1::IncidentOutcome o);
std::string ShipmentStatusName(v1::ShipmentStatus s);
// "A, B and C" (at most `max` names, then "and N more").
std::string JoinNames(const std::vector<std::string>& names, size_t max = 5);

class Execution {
 public:
  Execution(StateView& view, const BlockContext& ctx, const v1::TxBody& body,
            std::string_view signer)
      : view_(view), ctx_(ctx), body_(body), signer_(signer) {}
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  Result<TxEffects> Run();
  // Anomalies that a refusal raised (tag misuse): they belong on the failed receipt.
  std::vector<v1::Anomaly> TakeRefusalAnomalies() { return std::move(refusal_anomalies_); }

 private:
  // ---- shared checks (rules.cc) ----
  // The signer must be an active member holding one of `roles` (any role when empty).
  Result<v1::Member> RequireSigner(std::initializer_list<v1::Role> roles, std::string_view what);
  // `key` must be an active member holding one of `roles`.
  Result<v1::Member> RequireCounterpart(std::string_view key, std::initializer_list<v1::Role> roles,
                                        std::string_view as_what);
  Result<v1::Lot> LoadLot(const std::string& lot_id);
  Result<v1::MineSite> LoadSite(const std::string& site_id);
  Result<v1::Shipment> LoadShipment(const std::string& shipment_id);
  // Rule 7: a lot's events never go back in time (device time).
  Result<void> CheckLotTime(const v1::Lot& lot);
  // The lot must be held by the signer (status HELD); the refusal says why it is not.
  Result<void> CheckHeldBySigner(const v1::Lot& lot, std::string_view to_do);
  // Writes `lot` and records its lot link and the tx's times on it.
  void TouchLot(const std::optional<v1::Lot>& before, v1::Lot lot);
  Result<void> CheckDistinct(const std::vector<std::string>& lot_ids);
  Result<void> CheckText(std::string_view text, std::string_view what, size_t min_chars,
                         size_t max_chars);
  template <class Change>
  Result<void> ChangeBalance(std::string_view member_key, Change&& change) {
    auto balance = view_.GetMassBalance(member_key);
    if (!balance) return tl::unexpected(balance.error());
    change(*balance);
    view_.PutMassBalance(*balance);
    return {};
  }
  // A refusal that is also flagged: `anomaly` goes on the failed receipt.
  tl::unexpected<Error> RefuseFlagged(ErrorCode code, std::string message, v1::Anomaly anomaly);
  void RaiseAnomaly(v1::Anomaly anomaly) { effects_.anomalies.push_back(std::move(anomaly)); }

  // ---- members and sites (rules.cc) ----
  Result<void> RegisterMember(const v1::RegisterMember& a);
  Result<void> SetMemberStatus(std::string_view key, bool suspend, const std::string& reason);
  Result<void> RegisterMineSite(const v1::RegisterMineSite& a);

  // ---- tags, mine lots, custody (rules_custody.cc) ----
  Result<void> AllocateTags(const v1::AllocateTags& a);
  Result<void> RecordMineLot(const v1::RecordMineLot& a);
  Result<void> DispatchLots(const v1::DispatchLots& a);
  Result<void> ReceiveLots(const v1::ReceiveLots& a);
  Result<void> CancelDispatch(const v1::CancelDispatch& a);
  Result<void> ReportTags(const v1::ReportTags& a);
  // Rule 2: a tag of a site whose tags were withdrawn after its allocation is never usable.
  Result<void> CheckTagNotWithdrawn(const v1::Tag& tag, const v1::MineSite& site);

  // ---- processing (rules_processing.cc) ----
  Result<void> ProcessLots(const v1::ProcessLots& a);

  // ---- export (rules_export.cc) ----
  Result<void> FormShipment(const v1::FormShipment& a);
  Result<void> ReviewShipment(const v1::ReviewShipment& a);
  Result<void> DispatchShipment(const v1::DispatchShipment& a);
  Result<void> ReceiveShipment(const v1::ReceiveShipment& a);
  Result<void> CancelShipment(const v1::CancelShipment& a);
  // Rule 6, run at certification and again at dispatch.
  Result<void> CheckExport(const v1::Shipment& shipment);
  Result<void> CheckNoOpenLevelOneIncident(v1::IncidentSubjectKind kind,
                                           const std::string& subject_id, const std::string& what);
  // Moves every lot of `shipment` through `change` (a lot link each).
  template <class Change>
  Result<void> TouchShipmentLots(const v1::Shipment& shipment, Change&& change) {
    for (const auto& id : shipment.lot_ids()) {
      auto lot = LoadLot(id);
      if (!lot) return tl::unexpected(lot.error());
      MT_TRY(CheckLotTime(*lot));
      v1::Lot next = *lot;
      change(next);
      TouchLot(*lot, std::move(next));
    }
    return {};
  }

  // ---- oversight: inspections, site status and tags, incidents, audits (rules_oversight.cc)
  Result<void> RecordInspection(const v1::RecordInspection& a);
  Result<void> SetSiteStatus(const v1::SetSiteStatus& a);
  // WithdrawSiteTags (withdraw) and RestoreSiteTags (!withdraw).
  Result<void> SetSiteTagsWithdrawn(const std::string& site_id, bool withdraw,
                                    const std::string& reason);
  Result<void> ReportIncident(const v1::ReportIncident& a);
  Result<void> UpdateIncident(const v1::UpdateIncident& a);
  Result<void> SetAuditFlag(const v1::SetAuditFlag& a);
  Result<void> CheckIncidentSubject(v1::IncidentSubjectKind kind, const std::string& id);

  StateView& view_;
  const BlockContext& ctx_;
  const v1::TxBody& body_;
  std::string signer_;
  TxEffects effects_;
  std::vector<v1::Anomaly> refusal_anomalies_;
};

}  // namespace minetrace::ledger::detail
