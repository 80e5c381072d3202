// A lot's custody event as a person reads it, derived from a committed tx and its receipt.
// One definition for the node's provenance query and the offline proof verifier, so that both
// show the same events.
// Thread-safety: pure functions over values.
#pragma once

#include <string>

#include "minetrace/base/bytes.h"
#include "minetrace/v1/ledger.pb.h"
#include "minetrace/v1/node.pb.h"

namespace minetrace::ledger::proof {

// The TxBody oneof field name of the action, e.g. "dispatch_lots" ("" when there is none).
std::string TxActionName(const v1::TxBody& body);

// The event of lot `lot_id` that `body`, signed by `signer` and committed with `receipt`,
// records. Its weight is the one the action states for that lot (a mine lot, a receipt, a
// processing output), 0 when the action states none; its counterparty is the receiver,
// producer or smelter the action names, if any.
v1::CustodyEvent CustodyEventOf(const v1::TxBody& body, std::string_view signer,
                                const v1::Receipt& receipt, const Hash32& receipt_hash,
                                const std::string& lot_id);

}  // namespace minetrace::ledger::proof
