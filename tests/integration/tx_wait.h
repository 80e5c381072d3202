// Submitting one tx to one node and waiting until one node has it committed, for tests that
// watch several nodes: WaitTx answers NOT_FOUND at once on a node where the tx is neither
// pending nor committed (an observer never receives the gossip of a tx given to a validator;
// a validator may not have checked that gossip yet), so the wait here retries after it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "minetrace/ledger/proof/tx.h"
#include "node_process.h"

namespace minetrace::testing {

// The tx id the node computes for `tx`, as the bytes the RPCs take.
inline std::string TxIdBytes(const v1::SignedTx& tx) {
  const Hash32 id = ledger::proof::TxId(tx);
  return std::string(id.begin(), id.end());
}

// SubmitTx to `node`; the gRPC status (OK = admitted).
inline grpc::Status Submit(NodeProcess& node, const v1::SignedTx& tx) {
  v1::SubmitTxRequest req;
  *req.mutable_tx() = tx;
  v1::SubmitTxResponse resp;
  auto ctx = Ctx(5000);
  return node.TxStub()->SubmitTx(ctx.get(), req, &resp);
}

// The tx with its receipt once `node` has committed it; nullopt after `timeout_ms`.
inline std::optional<v1::TxWithReceipt> WaitCommitted(NodeProcess& node, const std::string& tx_id,
                                                      int timeout_ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  auto stub = node.TxStub();
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    v1::WaitTxRequest w;
    w.set_tx_id(tx_id);
    w.set_timeout_ms(static_cast<uint32_t>(left.count()));
    v1::TxWithReceipt rec;
    auto ctx = Ctx(static_cast<int>(left.count()) + 2000);
    const grpc::Status s = stub->WaitTx(ctx.get(), w, &rec);
    if (s.ok()) return rec;
    if (s.error_code() != grpc::StatusCode::NOT_FOUND) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace minetrace::testing
