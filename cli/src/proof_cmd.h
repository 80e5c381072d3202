// `minetrace proof get` and `minetrace proof verify`: fetch a provenance proof bundle from a
// node into a file, and check such a file offline against a trusted genesis (issue 6). The
// verifier is ledger/proof's VerifyProvenanceProof; this file reads and writes files and
// prints the provenance tree (provenance.h) with one verdict line at the end.
// Thread-safety: free functions; each call uses only its arguments.
#pragma once

#include <string>

#include "app.h"
#include "failure.h"

namespace minetrace::cli {

struct ProofGetOptions {
  std::string node;
  uint32_t timeout_ms = 0;
  std::string id;  // lot id, or shipment id when `shipment`
  bool shipment = false;
  std::string out_file;  // the binary ProvenanceProof goes here
};

// Writes the bundle to out_file and prints one line: what it holds and what certifies it.
CommandResult<> ProofGet(const Env& env, const ProofGetOptions& options);

struct ProofVerifyOptions {
  std::string file;
  std::string trust;  // a genesis TOML file
  bool json = false;
};

// Prints the verified provenance tree, a note on how fresh it is (the newest event shown and
// the certified height) and "VERIFIED: ..." last (exit 0), or "NOT VERIFIED: <what
// failed>" (exit 1). With json, one JSON object: {"verdict", "error" or the figures and the
// provenance}.
CommandResult<> ProofVerify(const Env& env, const ProofVerifyOptions& options);

struct ProofConsistencyGetOptions {
  std::string node;
  uint32_t timeout_ms = 0;
  uint64_t from_block = 0;  // 0 = the head (or the block of from_bundle)
  uint64_t to_block = 0;    // 0 = the head
  std::string from_bundle;  // a provenance bundle file: its certified block is the first
  std::string out_file;     // the binary ConsistencyBundle goes here
};

// Writes the consistency bundle joining two certified roots to out_file and prints one line.
CommandResult<> ProofConsistencyGet(const Env& env, const ProofConsistencyGetOptions& options);

struct ProofConsistencyOptions {
  std::string file;
  std::string trust;   // a genesis TOML file
  std::string bundle;  // optional provenance bundle whose root must be the first root
};

// Prints "CONSISTENT: ..." (exit 0) when both roots are certified by the trusted validators
// and the later extends the earlier (and, with `bundle`, the earlier is that bundle's root),
// or "NOT CONSISTENT: <what failed>" (exit 1).
CommandResult<> ProofConsistency(const Env& env, const ProofConsistencyOptions& options);

}  // namespace minetrace::cli
