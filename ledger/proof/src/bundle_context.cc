#include "minetrace/ledger/proof/bundle_context.h"

namespace minetrace::ledger::proof {

bool IsContextAction(const v1::TxBody& body) {
  switch (body.action_case()) {
    case v1::TxBody::kRegisterMember:
    case v1::TxBody::kRegisterMineSite:
    case v1::TxBody::kRecordInspection:
    case v1::TxBody::kSetSiteStatus:
      return true;
    default:
      return false;
  }
}

void AddMemberKeysNamedBy(const v1::TxBody& body, std::string_view signer,
                          std::set<std::string>& keys) {
  keys.insert(std::string(signer));
  switch (body.action_case()) {
    case v1::TxBody::kRecordMineLot:
      keys.insert(body.record_mine_lot().producer_key());
      break;
    case v1::TxBody::kDispatchLots:
      keys.insert(body.dispatch_lots().receiver_key());
      break;
    case v1::TxBody::kDispatchShipment:
      keys.insert(body.dispatch_shipment().smelter_key());
      break;
    default:
      break;
  }
}

std::string SiteIdOf(const v1::TxBody& body) {
  switch (body.action_case()) {
    case v1::TxBody::kRegisterMineSite:
      return body.register_mine_site().site_id();
    case v1::TxBody::kRecordInspection:
      return body.record_inspection().site_id();
    case v1::TxBody::kSetSiteStatus:
      return body.set_site_status().site_id();
    case v1::TxBody::kRecordMineLot:
      return body.record_mine_lot().site_id();
    default:
      return {};
  }
}

v1::SiteStatus EffectiveSiteStatusAt(v1::SiteStatus recorded, int64_t last_inspection_ms,
                                     int64_t time_ms) {
  constexpr int64_t kYearMs = 365LL * 24 * 60 * 60 * 1000;
  const int64_t since = time_ms - last_inspection_ms;
  switch (recorded) {
    case v1::SITE_STATUS_GREEN:
      if (since > 4 * kYearMs) return v1::SITE_STATUS_RED;
      if (since > kYearMs) return v1::SITE_STATUS_BLUE;
      return v1::SITE_STATUS_GREEN;
    case v1::SITE_STATUS_BLUE:
      return since > 3 * kYearMs ? v1::SITE_STATUS_RED : v1::SITE_STATUS_BLUE;
    default:
      return recorded;
  }
}

SiteStatusAtRecord SiteStatusAt(const SiteStatusTx& registration,
                                const std::vector<SiteStatusTx>& status_txs, uint64_t record_leaf,
                                int64_t record_time_ms) {
  SiteStatusAtRecord out;
  // Registration follows an inspection: its ledger time starts the lapse clock.
  v1::SiteStatus recorded = registration.body->register_mine_site().status();
  int64_t last_inspection_ms = registration.block_time_ms;
  std::optional<size_t> latest_status_change;
  for (size_t i = 0; i < status_txs.size(); ++i) {
    const SiteStatusTx& t = status_txs[i];
    if (t.leaf_index >= record_leaf) break;
    if (t.body->action_case() == v1::TxBody::kRecordInspection) {
      recorded = t.body->record_inspection().result();
      last_inspection_ms = t.body->record_inspection().inspected_at_ms();
      out.inspection = i;
      latest_status_change.reset();  // an inspection supersedes earlier status changes
    } else if (t.body->action_case() == v1::TxBody::kSetSiteStatus) {
      recorded = t.body->set_site_status().status();
      latest_status_change = i;
    }
  }
  out.status_change = latest_status_change;
  out.decided_by = out.status_change ? out.status_change : out.inspection;
  out.status = EffectiveSiteStatusAt(recorded, last_inspection_ms, record_time_ms);
  return out;
}

}  // namespace minetrace::ledger::proof
