// The domain rules of minetrace (../shared/domain.md): ExecuteTx applies one transaction's
// action to a StateView layer or refuses it with the rule it breaks. It is deterministic:
// everything it reads comes from the view, the body and the block context (no clock, no
// randomness), so every validator reaches the same state.
// Thread-safety: pure function of its arguments.
#pragma once

#include <string>
#include <vector>

#include "minetrace/base/result.h"
#include "minetrace/ledger/state.h"
#include "minetrace/v1/ledger.pb.h"

namespace minetrace::ledger {

struct BlockContext {
  std::string chain_id;
  uint64_t height = 0;
  int64_t block_time_ms = 0;  // ledger time; never decreases from block to block
};

struct TxEffects {
  // Every lot the action created or changed, with the receipt hash of its previous event
  // (empty for a lot created here), in the order the action names them.
  std::vector<v1::LotLink> lot_links;
  std::vector<v1::Anomaly> anomalies;
};

// Applies body's action, signed by `signer` (32 bytes), to `view`. On error the caller
// discards the view's layer: a refused transaction changes nothing. A refusal may still raise
// anomalies (a tag used off its site or agent is refused and flagged): they are appended to
// `refusal_anomalies` when given, for the receipt of the failed tx.
Result<TxEffects> ExecuteTx(StateView& view, const BlockContext& ctx, const v1::TxBody& body,
                            std::string_view signer,
                            std::vector<v1::Anomaly>* refusal_anomalies = nullptr);

// The ICGLR status a site has at `time_ms`: green lapses to blue after 365 days without
// inspection, blue becomes red after three more years.
v1::SiteStatus EffectiveSiteStatus(const v1::MineSite& site, int64_t time_ms);

// Limits of one transaction, also applied to requests.
inline constexpr uint32_t kMaxTagsPerAllocation = 10000;
inline constexpr size_t kMaxLotsPerTx = 1000;
inline constexpr uint64_t kMaxLotWeightGrams = 100'000'000;  // 100 t: beyond is a typo
inline constexpr uint64_t kMaxProductionEstimateKg = 1'000'000'000;
inline constexpr int64_t kMaxDeviceClockAheadMs = 10 * 60 * 1000;
inline constexpr int64_t kLateUploadMs = 7LL * 24 * 3600 * 1000;
inline constexpr uint64_t kReceiptWeightToleranceBasisPoints = 200;  // 2 %

}  // namespace minetrace::ledger
