#include "proof_cmd.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "format.h"
#include "minetrace/ledger/proof/consistency_proof.h"
#include "minetrace/ledger/proof/genesis.h"
#include "minetrace/ledger/proof/provenance_proof.h"
#include "node_client.h"
#include "provenance.h"

namespace minetrace::cli {
namespace {

// A bundle file is at most this large (a 10,000-lot graph with long histories stays far
// below); a bigger file is refused before it is read into memory.
constexpr uintmax_t kMaxBundleBytes = 1ull << 30;

std::string Subject(const v1::ProvenanceProof& bundle) {
  if (!bundle.shipment_id().empty()) return "shipment '" + bundle.shipment_id() + "'";
  std::string out = bundle.lot_ids_size() == 1 ? "lot " : "lots ";
  for (int i = 0; i < bundle.lot_ids_size(); ++i) {
    out += (i > 0 ? ", '" : "'") + bundle.lot_ids(i) + "'";
  }
  return out;
}

// Reads a binary proto file of at most kMaxBundleBytes; `kind` names it in errors.
template <class Message>
Result<Message> ReadProtoFile(const std::string& file, const std::string& kind) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) return MakeError(ErrorCode::kNotFound, "cannot read " + file + ": " + ec.message());
  if (size > kMaxBundleBytes) {
    return MakeError(ErrorCode::kInvalidArgument, file + " is larger than 1 GiB");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot read " + file);
  std::stringstream buf;
  buf << in.rdbuf();
  Message message;
  if (!message.ParseFromString(buf.str())) {
    return MakeError(ErrorCode::kInvalidArgument, file + " is not a " + kind);
  }
  return message;
}

// Writes `message` to `file` (replacing it); returns the bytes written.
Result<size_t> WriteProtoFile(const std::string& file, const google::protobuf::Message& message) {
  const std::string bytes = message.SerializeAsString();
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << bytes;
  out.close();
  if (!out) return MakeError(ErrorCode::kInternal, "cannot write " + file);
  return bytes.size();
}

std::string RootLine(const ledger::proof::CertifiedLedgerRoot& root) {
  return "ledger height " + std::to_string(root.height) + " (" + std::to_string(root.leaf_count) +
         " leaves, root " + ToHex(root.accumulator_root) + ")";
}

Result<v1::ProvenanceProof> ReadBundle(const std::string& file) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(file, ec);
  if (ec) return MakeError(ErrorCode::kNotFound, "cannot read " + file + ": " + ec.message());
  if (size > kMaxBundleBytes) {
    return MakeError(ErrorCode::kInvalidArgument, file + " is larger than 1 GiB");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kNotFound, "cannot read " + file);
  std::stringstream buf;
  buf << in.rdbuf();
  v1::ProvenanceProof bundle;
  if (!bundle.ParseFromString(buf.str())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     file + " is not a provenance proof bundle (minetrace.v1.ProvenanceProof)");
  }
  return bundle;
}

}  // namespace

CommandResult<> ProofGet(const Env& env, const ProofGetOptions& options) {
  v1::GetProvenanceRequest request;
  if (options.shipment) {
    request.set_shipment_id(options.id);
  } else {
    request.set_lot_id(options.id);
  }
  NodeClient client(options.node, std::chrono::milliseconds(options.timeout_ms));
  auto bundle = client.GetProvenanceProof(request);
  if (!bundle) return tl::unexpected(bundle.error());
  auto written = WriteProtoFile(options.out_file, *bundle);
  if (!written) return LocalFailure("proof get", written.error());
  env.out << "wrote " << options.out_file << ": " << Subject(*bundle) << ", " << bundle->txs_size()
          << " txs, " << *written << " bytes, certified ledger root at height "
          << bundle->ledger_root().height() << " (" << bundle->ledger_root().leaf_count()
          << " leaves) by " << bundle->qc().signatures_size() << " of "
          << bundle->validator_keys_size() << " validators\n";
  return {};
}

CommandResult<> ProofVerify(const Env& env, const ProofVerifyOptions& options) {
  const std::string what = "proof verify " + options.file;
  auto genesis = ledger::proof::LoadGenesisFile(options.trust);
  if (!genesis) return LocalFailure("read the trusted genesis", genesis.error());
  auto bundle = ReadBundle(options.file);
  if (!bundle) return LocalFailure(what, bundle.error());
  auto verified = ledger::proof::VerifyProvenanceProof(*bundle, *genesis);
  if (!verified) {
    if (options.json) {
      env.out << "{\"verdict\":\"NOT_VERIFIED\",\"error\":" << JsonString(verified.error().message)
              << "}\n";
    } else {
      env.out << "NOT VERIFIED: " << verified.error().message << "\n";
    }
    return Fail(ExitCode::kFailed, what, "NOT_VERIFIED", verified.error().message);
  }
  const auto& v = *verified;
  // The bundle proves what happened up to the certified root, not that nothing happened since
  // (docs/DECISIONS.md "Issue 6"): every verdict says as of when.
  const std::string as_of = "ledger height " + std::to_string(v.ledger_root.height) +
                            " (certified block " + std::to_string(v.certified_block_height) +
                            ", proposed " + FormatTimeMs(v.certified_time_ms) + ")";
  if (options.json) {
    auto provenance = ToJson(v.provenance);
    if (!provenance) return LocalFailure("print JSON", provenance.error());
    std::string evidence;
    for (const auto& [lot, basis] : v.site_status_evidence) {
      evidence += std::string(evidence.empty() ? "" : ",") + JsonString(lot) +
                  ":{\"action\":" + JsonString(basis.action) +
                  ",\"height\":" + std::to_string(basis.height) + "}";
    }
    env.out << "{\"verdict\":\"VERIFIED\",\"chainId\":" << JsonString(v.chain_id)
            << ",\"asOf\":{\"ledgerHeight\":" << v.ledger_root.height
            << ",\"certifiedBlockHeight\":" << v.certified_block_height
            << ",\"certifiedTimeMs\":" << v.certified_time_ms << "}"
            << ",\"ledgerHeight\":" << v.ledger_root.height
            << ",\"leafCount\":" << v.ledger_root.leaf_count
            << ",\"accumulatorRoot\":" << JsonString(ToHex(v.ledger_root.accumulator_root))
            << ",\"certifiedBlockHeight\":" << v.certified_block_height
            << ",\"signatures\":" << v.signature_count << ",\"validators\":" << v.validator_count
            << ",\"txs\":" << v.tx_count << ",\"contextTxs\":" << v.context_tx_count
            << ",\"siteStatusAtRecord\":{" << evidence << "}"
            << ",\"provenance\":" << *provenance << "}\n";
    return {};
  }
  BundleTreeNotes notes;
  for (const auto& [lot, basis] : v.site_status_evidence) {
    notes.site_status_basis[lot] = basis.action + " at height " + std::to_string(basis.height);
  }
  PrintProvenanceTree(env.out, v.provenance, &notes);
  uint64_t newest = 0;
  for (const auto& lot : v.provenance.lots()) {
    for (const auto& event : lot.events()) newest = std::max(newest, event.height());
  }
  // The accumulator proves receipts, not the lots' current state: say how fresh this is.
  env.out << "\nnote: the newest event shown is at ledger height " << newest
          << "; the bundle cannot rule out events after it (the certified root is at height "
          << v.ledger_root.height << "). For a fresher view fetch a new bundle, and check that "
          << "the ledger only grew since this one with `minetrace proof consistency-get "
          << "--from-bundle` and `minetrace proof consistency --bundle`.\n";
  const int lots = v.provenance.lots_size();
  env.out << "VERIFIED: " << Subject(*bundle) << ", " << lots << (lots == 1 ? " lot, " : " lots, ")
          << v.tx_count << " txs (+" << v.context_tx_count << " naming members and sites): "
          << "every signature, receipt, inclusion path, backward lot link, custody step and "
          << "mass balance checks out, as of " << as_of << ", certified by " << v.signature_count
          << " of " << v.validator_count << " trusted validators of chain '" << v.chain_id
          << "'\n";
  return {};
}

CommandResult<> ProofConsistencyGet(const Env& env, const ProofConsistencyGetOptions& options) {
  v1::GetConsistencyBundleRequest request;
  request.set_first_block_height(options.from_block);
  request.set_second_block_height(options.to_block);
  if (!options.from_bundle.empty()) {
    auto bundle = ReadBundle(options.from_bundle);
    if (!bundle) return LocalFailure("proof consistency-get", bundle.error());
    request.set_first_block_height(bundle->header().height());
  }
  NodeClient client(options.node, std::chrono::milliseconds(options.timeout_ms));
  auto bundle = client.GetConsistencyBundle(request);
  if (!bundle) return tl::unexpected(bundle.error());
  auto written = WriteProtoFile(options.out_file, *bundle);
  if (!written) return LocalFailure("proof consistency-get", written.error());
  const auto& a = bundle->first().header().ledger_root();
  const auto& b = bundle->second().header().ledger_root();
  env.out << "wrote " << options.out_file << ": from ledger height " << a.height() << " ("
          << a.leaf_count() << " leaves, block " << bundle->first().header().height()
          << ") to ledger height " << b.height() << " (" << b.leaf_count() << " leaves, block "
          << bundle->second().header().height() << "), " << bundle->consistency_path_size()
          << " path hashes, " << *written << " bytes\n";
  return {};
}

CommandResult<> ProofConsistency(const Env& env, const ProofConsistencyOptions& options) {
  const std::string what = "proof consistency " + options.file;
  auto genesis = ledger::proof::LoadGenesisFile(options.trust);
  if (!genesis) return LocalFailure("read the trusted genesis", genesis.error());
  auto bundle = ReadProtoFile<v1::ConsistencyBundle>(
      options.file, "consistency bundle (minetrace.v1.ConsistencyBundle)");
  if (!bundle) return LocalFailure(what, bundle.error());
  auto verified = ledger::proof::VerifyConsistencyBundle(*bundle, *genesis);
  std::string failure = verified ? std::string() : verified.error().message;
  if (verified && !options.bundle.empty()) {
    // The root the user kept from a provenance bundle must be the one this extends.
    auto provenance = ReadBundle(options.bundle);
    if (!provenance) return LocalFailure(what, provenance.error());
    const v1::LedgerRoot& kept = provenance->ledger_root();
    const auto& first = verified->first;
    if (kept.height() != first.height || kept.leaf_count() != first.leaf_count ||
        kept.accumulator_root() !=
            std::string(first.accumulator_root.begin(), first.accumulator_root.end())) {
      failure = "the first root of the consistency bundle (" + RootLine(first) +
                ") is not the root of " + options.bundle + " (ledger height " +
                std::to_string(kept.height()) + ", " + std::to_string(kept.leaf_count()) +
                " leaves): fetch the consistency bundle with --from-bundle " + options.bundle;
    }
  }
  if (!failure.empty()) {
    env.out << "NOT CONSISTENT: " << failure << "\n";
    return Fail(ExitCode::kFailed, what, "NOT_CONSISTENT", failure);
  }
  const auto& v = *verified;
  env.out << "first:  " << RootLine(v.first) << ", certified by " << v.first_signatures << " of "
          << v.validator_count << " validators (block " << v.first_block_height << ")\n";
  env.out << "second: " << RootLine(v.second) << ", certified by " << v.second_signatures << " of "
          << v.validator_count << " validators (block " << v.second_block_height << ")\n";
  env.out << "CONSISTENT: the ledger at height " << v.second.height << " extends the ledger at "
          << "height " << v.first.height << " (" << v.path_length
          << " path hashes): every receipt certified then is still there, unchanged and in "
          << "place, on chain '" << v.chain_id << "'\n";
  return {};
}

}  // namespace minetrace::cli
