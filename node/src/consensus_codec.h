// The codec between the sans-I/O consensus core's plain types (consensus/types.h, engine.h)
// and their protobuf wire form (proto/minetrace/v1/consensus.proto), at the node edge.
//
// ToProto never fails. FromProto treats its input as hostile (it comes from a peer or from
// disk): it never crashes or asserts, and refuses with kInvalidArgument and a message naming
// the offending field ("vote.block_id must be 32 bytes, got 5") any hash or key that is not
// exactly 32 bytes, any signature that is not exactly 64, a required sub-message that is
// absent, a certificate with more than kMaxCertificateEntries entries, or a oneof that is
// unset. It checks shape only: whether signatures verify, whether a QC is a quorum, whether a
// block extends its parent is the engine's business. Payload bytes pass through unchanged.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>

#include "minetrace/base/result.h"
#include "minetrace/consensus/engine.h"
#include "minetrace/consensus/types.h"
#include "minetrace/v1/consensus.pb.h"

namespace minetrace::node {

// The most signatures a QC, or timeouts a TC, may carry on the wire. A certificate needs at
// most n of them, and validator sets are far smaller; the bound keeps a hostile peer from
// making us allocate and check an unbounded list.
inline constexpr size_t kMaxCertificateEntries = 1024;

v1::QuorumCertificate QcToProto(const consensus::QuorumCertificate& qc);
Result<consensus::QuorumCertificate> QcFromProto(const v1::QuorumCertificate& proto);

// A header alone, as a CommittedBlock's commit proof carries its child's.
v1::ConsensusBlockHeader HeaderToProto(const consensus::BlockHeader& header);
Result<consensus::BlockHeader> HeaderFromProto(const v1::ConsensusBlockHeader& proto);

v1::ConsensusBlock BlockToProto(const consensus::Block& block);
Result<consensus::Block> BlockFromProto(const v1::ConsensusBlock& proto);

v1::ConsensusMessage MessageToProto(const consensus::Message& message);
Result<consensus::Message> MessageFromProto(const v1::ConsensusMessage& proto);

v1::SafetyRecord SafetyToProto(const consensus::SafetyData& safety);
Result<consensus::SafetyData> SafetyFromProto(const v1::SafetyRecord& proto);

}  // namespace minetrace::node
