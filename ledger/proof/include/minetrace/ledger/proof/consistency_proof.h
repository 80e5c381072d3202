// Offline verification of a consistency bundle (proto/minetrace/v1/proof.proto): two ledger
// roots, each certified by a quorum of the trusted genesis validators, and the RFC 9162
// consistency path proving that the later accumulator extends the earlier one. A third
// party who kept an earlier root (e.g. from a provenance bundle) uses it to check that the
// ledger only grew since: nothing certified then was changed, dropped or reordered.
//
// VerifyConsistencyBundle checks, stopping at the first failure with an error naming it:
//   1. the bundle names the trusted chain and validator set (same keys, in order, epoch 0);
//   2. each header is certified by its QC (certificate.h: 2f+1 distinct trusted signers);
//   3. the second root is not older than the first (height and leaf count);
//   4. the consistency path leads from the first root to the second (merkle.h).
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>

#include "minetrace/base/result.h"
#include "minetrace/ledger/proof/certificate.h"
#include "minetrace/v1/ledger.pb.h"
#include "minetrace/v1/proof.pb.h"

namespace minetrace::ledger::proof {

// A path longer than this is refused before any hashing (two 64-level subtrees at most).
inline constexpr size_t kMaxConsistencyPathLength = 128;

struct VerifiedConsistency {
  std::string chain_id;
  CertifiedLedgerRoot first;
  CertifiedLedgerRoot second;
  uint64_t first_block_height = 0;  // the certified consensus blocks
  uint64_t second_block_height = 0;
  size_t first_signatures = 0;
  size_t second_signatures = 0;
  size_t validator_count = 0;
  size_t path_length = 0;
};

// Verifies `bundle` against `trusted` (see the top of this file). kInvalidArgument for a
// malformed bundle or a path that does not prove consistency, kPermissionDenied when keys or
// signatures are not the trusted validators'; the message says what failed.
Result<VerifiedConsistency> VerifyConsistencyBundle(const v1::ConsistencyBundle& bundle,
                                                    const v1::Genesis& trusted);

}  // namespace minetrace::ledger::proof
