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

}  // namespace minetrace::cli
