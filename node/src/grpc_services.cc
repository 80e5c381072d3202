#include "grpc_services.h"

#include "consensus_driver.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/node/node.h"
#include "minetrace/v1/node.grpc.pb.h"

namespace minetrace::node {
namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
constexpr size_t kMaxTxsPerBatch = 1000;
constexpr size_t kMaxHistoryEvents = 10000;
constexpr auto kMaxWait = std::chrono::seconds(60);

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

Result<Hash32> ParseTxId(const std::string& bytes) {
  if (bytes.size() != 32) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "tx_id must be 32 bytes (SHA-256 of the body), got " +
                         std::to_string(bytes.size()));
  }
  Hash32 id;
  std::copy(bytes.begin(), bytes.end(), id.begin());
  return id;
}

Result<size_t> PageSize(uint32_t requested) {
  if (requested > kMaxPageSize) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "page_size is at most " + std::to_string(kMaxPageSize));
  }
  return requested == 0 ? kDefaultPageSize : requested;
}

void FillTx(const ledger::TxRecord& rec, v1::TxWithReceipt* out) {
  *out->mutable_tx() = rec.tx;
  *out->mutable_receipt() = rec.receipt;
  out->set_receipt_bytes(rec.receipt_bytes);
  out->set_receipt_hash(std::string(rec.receipt_hash.begin(), rec.receipt_hash.end()));
}

grpc::Status NotFound(std::string what) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, std::move(what));
}

class TxServiceImpl final : public v1::TxService::Service {
 public:
  explicit TxServiceImpl(Node& node) : node_(node) {}

  grpc::Status SubmitTx(grpc::ServerContext*, const v1::SubmitTxRequest* req,
                        v1::SubmitTxResponse* resp) override {
    if (!req->has_tx()) return Invalid("request has no tx");
    auto id = node_.Submit(req->tx());
    if (!id) return ToGrpcStatus(id.error());
    resp->set_tx_id(std::string(id->begin(), id->end()));
    return grpc::Status::OK;
  }

  grpc::Status SubmitTxs(grpc::ServerContext*, const v1::SubmitTxsRequest* req,
                         v1::SubmitTxsResponse* resp) override {
    if (static_cast<size_t>(req->txs_size()) > kMaxTxsPerBatch) {
      return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "at most " + std::to_string(kMaxTxsPerBatch) +
                              " txs per SubmitTxs call; split the batch");
    }
    std::vector<v1::SignedTx> txs(req->txs().begin(), req->txs().end());
    auto results = node_.SubmitMany(txs);
    for (size_t i = 0; i < txs.size(); ++i) {
      auto* r = resp->add_results();
      Hash32 id = ledger::proof::TxId(txs[i]);
      r->set_tx_id(std::string(id.begin(), id.end()));
      if (results[i]) {
        r->set_code(0);
      } else {
        r->set_code(static_cast<int32_t>(ToGrpcCode(results[i].error().code)));
        r->set_message(results[i].error().message);
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status WaitTx(grpc::ServerContext* ctx, const v1::WaitTxRequest* req,
                      v1::TxWithReceipt* resp) override {
    auto id = ParseTxId(req->tx_id());
    if (!id) return ToGrpcStatus(id.error());
    auto now = std::chrono::steady_clock::now();
    auto deadline = now + kMaxWait;
    if (req->timeout_ms() != 0) {
      deadline = std::min(deadline, now + std::chrono::milliseconds(req->timeout_ms()));
    }
    auto call_left = ctx->deadline() - std::chrono::system_clock::now();
    if (call_left < kMaxWait) {
      deadline = std::min(
          deadline, now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              call_left));
    }
    auto rec = node_.WaitTx(*id, deadline);
    if (!rec) return ToGrpcStatus(rec.error());
    FillTx(*rec, resp);
    return grpc::Status::OK;
  }

  grpc::Status GetTx(grpc::ServerContext*, const v1::GetTxRequest* req,
                     v1::TxWithReceipt* resp) override {
    auto id = ParseTxId(req->tx_id());
    if (!id) return ToGrpcStatus(id.error());
    auto rec = node_.ledger().GetTx(*id);
    if (!rec) return ToGrpcStatus(rec.error());
    if (!rec->has_value()) return NotFound("no committed tx " + ToHex(*id));
    FillTx(**rec, resp);
    return grpc::Status::OK;
  }

 private:
  Node& node_;
};

class QueryServiceImpl final : public v1::QueryService::Service {
 public:
  explicit QueryServiceImpl(const Node& node) : ledger_(node.ledger()) {}

  grpc::Status GetLot(grpc::ServerContext*, const v1::GetLotRequest* req,
                      v1::Lot* resp) override {
    if (req->lot_id().empty()) return Invalid("lot_id is empty");
    auto lot = ledger_.GetLot(req->lot_id());
    if (!lot) return ToGrpcStatus(lot.error());
    if (!lot->has_value()) return NotFound("no lot '" + req->lot_id() + "'");
    *resp = std::move(**lot);
    return grpc::Status::OK;
  }

  grpc::Status GetLotHistory(grpc::ServerContext*, const v1::GetLotHistoryRequest* req,
                             v1::LotHistory* resp) override {
    if (req->lot_id().empty()) return Invalid("lot_id is empty");
    auto lot = ledger_.GetLot(req->lot_id());
    if (!lot) return ToGrpcStatus(lot.error());
    if (!lot->has_value()) return NotFound("no lot '" + req->lot_id() + "'");
    auto events = ledger_.GetLotHistory(req->lot_id(), kMaxHistoryEvents);
    if (!events) return ToGrpcStatus(events.error());
    *resp->mutable_lot() = std::move(**lot);
    for (const auto& e : *events) FillTx(e, resp->add_events());
    return grpc::Status::OK;
  }

  grpc::Status ListLots(grpc::ServerContext*, const v1::ListLotsRequest* req,
                        v1::ListLotsResponse* resp) override {
    int filters = !req->holder_key().empty() + !req->site_id().empty() +
                  (req->status() != v1::LOT_STATUS_UNSPECIFIED);
    if (filters > 1) return Invalid("give at most one filter: holder_key, site_id or status");
    if (!req->holder_key().empty() && req->holder_key().size() != 32) {
      return Invalid("holder_key must be a 32-byte public key");
    }
    if (!v1::LotStatus_IsValid(req->status())) return Invalid("unknown lot status");
    auto size = PageSize(req->page_size());
    if (!size) return ToGrpcStatus(size.error());
    ledger::LotFilter filter{req->holder_key(), req->site_id(), req->status()};
    auto page = ledger_.ListLots(filter, req->page_token(), *size);
    if (!page) return ToGrpcStatus(page.error());
    for (auto& lot : page->items) *resp->add_lots() = std::move(lot);
    resp->set_next_page_token(page->next_page_token);
    return grpc::Status::OK;
  }

  grpc::Status GetMineSite(grpc::ServerContext*, const v1::GetMineSiteRequest* req,
                           v1::MineSite* resp) override {
    if (req->site_id().empty()) return Invalid("site_id is empty");
    auto site = ledger_.GetMineSite(req->site_id());
    if (!site) return ToGrpcStatus(site.error());
    if (!site->has_value()) return NotFound("no mine site '" + req->site_id() + "'");
    *resp = std::move(**site);
    return grpc::Status::OK;
  }

  grpc::Status ListMineSites(grpc::ServerContext*, const v1::ListMineSitesRequest* req,
                             v1::ListMineSitesResponse* resp) override {
    auto size = PageSize(req->page_size());
    if (!size) return ToGrpcStatus(size.error());
    auto page = ledger_.ListMineSites(req->country(), req->page_token(), *size);
    if (!page) return ToGrpcStatus(page.error());
    for (auto& s : page->items) *resp->add_sites() = std::move(s);
    resp->set_next_page_token(page->next_page_token);
    return grpc::Status::OK;
  }

  grpc::Status GetMember(grpc::ServerContext*, const v1::GetMemberRequest* req,
                         v1::Member* resp) override {
    if (req->member_key().size() != 32) return Invalid("member_key must be 32 bytes");
    auto m = ledger_.GetMember(req->member_key());
    if (!m) return ToGrpcStatus(m.error());
    if (!m->has_value()) return NotFound("no member " + ToHex(AsBytes(req->member_key())));
    *resp = std::move(**m);
    return grpc::Status::OK;
  }

  grpc::Status GetTag(grpc::ServerContext*, const v1::GetTagRequest* req,
                      v1::Tag* resp) override {
    if (req->tag_id().empty()) return Invalid("tag_id is empty");
    auto t = ledger_.GetTag(req->tag_id());
    if (!t) return ToGrpcStatus(t.error());
    if (!t->has_value()) return NotFound("no tag '" + req->tag_id() + "' was allocated");
    *resp = std::move(**t);
    return grpc::Status::OK;
  }

  grpc::Status GetTxProof(grpc::ServerContext*, const v1::GetTxProofRequest* req,
                          v1::TxProof* resp) override {
    auto id = ParseTxId(req->tx_id());
    if (!id) return ToGrpcStatus(id.error());
    auto proof = ledger_.GetTxProof(*id);
    if (!proof) return ToGrpcStatus(proof.error());
    if (!proof->has_value()) return NotFound("no committed tx " + ToHex(*id));
    auto& p = **proof;
    FillTx(p.tx, resp->mutable_tx());
    resp->mutable_inclusion()->set_leaf_index(p.tx.receipt.leaf_index());
    resp->mutable_inclusion()->set_tree_size(p.tree_size);
    for (const auto& h : p.path) resp->mutable_inclusion()->add_path(std::string(h.begin(), h.end()));
    *resp->mutable_ledger_info() = std::move(p.ledger_info);
    return grpc::Status::OK;
  }

  grpc::Status GetConsistencyProof(grpc::ServerContext*, const v1::GetConsistencyProofRequest* req,
                                   v1::ConsistencyProof* resp) override {
    uint64_t second = req->second_size() == 0 ? ledger_.head().leaf_count() : req->second_size();
    auto path = ledger_.ConsistencyProof(req->first_size(), second);
    if (!path) return ToGrpcStatus(path.error());
    resp->set_first_size(req->first_size());
    resp->set_second_size(second);
    for (const auto& h : *path) resp->add_path(std::string(h.begin(), h.end()));
    return grpc::Status::OK;
  }

  grpc::Status GetLedgerInfo(grpc::ServerContext*, const v1::GetLedgerInfoRequest*,
                             v1::SignedLedgerInfo* resp) override {
    auto info = ledger_.LatestSignedLedgerInfo();
    if (!info) return ToGrpcStatus(info.error());
    *resp = std::move(*info);
    return grpc::Status::OK;
  }

 private:
  const ledger::Ledger& ledger_;
};

class NodeServiceImpl final : public v1::NodeService::Service {
 public:
  explicit NodeServiceImpl(Node& node) : node_(node) {}

  grpc::Status ListMisbehaviour(grpc::ServerContext*, const v1::ListMisbehaviourRequest* req,
                                v1::ListMisbehaviourResponse* resp) override {
    auto limit = PageSize(req->limit());
    if (!limit) return ToGrpcStatus(limit.error());
    bool bad_record = false;
    Result<void> scanned = node_.ledger().ScanConsensusRecords(
        kEvidencePrefix, [&](std::string_view, std::string_view value) {
          v1::MisbehaviourRecord record;
          if (!record.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
            bad_record = true;
            return false;
          }
          if (record.sequence() > req->after_sequence()) *resp->add_records() = std::move(record);
          return static_cast<size_t>(resp->records_size()) < *limit;
        });
    if (!scanned) return ToGrpcStatus(scanned.error());
    if (bad_record) {
      return grpc::Status(grpc::StatusCode::DATA_LOSS, "a stored misbehaviour record is corrupt");
    }
    return grpc::Status::OK;
  }

  grpc::Status Status(grpc::ServerContext*, const v1::StatusRequest*,
                      v1::StatusResponse* resp) override {
    auto network = node_.NetworkStatus();
    if (!network) return ToGrpcStatus(network.error());
    *resp = std::move(*network);
    const auto& ledger = node_.ledger();
    v1::LedgerInfo head = ledger.head();
    resp->set_chain_id(ledger.genesis().chain_id());
    resp->set_genesis_hash(std::string(ledger.genesis_hash().begin(), ledger.genesis_hash().end()));
    resp->set_node_key(std::string(node_.node_key().begin(), node_.node_key().end()));
    resp->set_height(head.height());
    resp->set_accumulator_root(head.accumulator_root());
    resp->set_leaf_count(head.leaf_count());
    resp->set_mempool_txs(static_cast<uint32_t>(node_.mempool_txs()));
    resp->set_mempool_bytes(node_.mempool_bytes());
    resp->set_version(MINETRACE_VERSION);
    resp->set_last_block_time_ms(head.block_time_ms());
    return grpc::Status::OK;
  }

 private:
  Node& node_;
};

}  // namespace

grpc::StatusCode ToGrpcCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorCode::kPermissionDenied: return grpc::StatusCode::PERMISSION_DENIED;
    case ErrorCode::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case ErrorCode::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case ErrorCode::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case ErrorCode::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorCode::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case ErrorCode::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case ErrorCode::kDataLoss: return grpc::StatusCode::DATA_LOSS;
    case ErrorCode::kInternal: return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::UNKNOWN;
}

grpc::Status ToGrpcStatus(const Error& error) {
  return grpc::Status(ToGrpcCode(error.code), error.message);
}

std::vector<std::unique_ptr<grpc::Service>> MakeGrpcServices(Node& node) {
  std::vector<std::unique_ptr<grpc::Service>> out;
  out.push_back(std::make_unique<TxServiceImpl>(node));
  out.push_back(std::make_unique<QueryServiceImpl>(node));
  out.push_back(std::make_unique<NodeServiceImpl>(node));
  return out;
}

}  // namespace minetrace::node
