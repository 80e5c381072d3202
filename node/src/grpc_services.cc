#include "grpc_services.h"

#include <chrono>
#include <map>
#include <thread>

#include "consensus_driver.h"
#include "minetrace/base/assert.h"
#include "minetrace/ledger/proof/tx.h"
#include "minetrace/node/node.h"
#include "minetrace/v1/node.grpc.pb.h"
#include "proof_bundle.h"

namespace minetrace::node {
namespace {

constexpr uint32_t kDefaultPageSize = 100;
constexpr uint32_t kMaxPageSize = 1000;
constexpr size_t kMaxTxsPerBatch = 1000;
constexpr size_t kMaxHistoryEvents = 10000;
constexpr auto kMaxWait = std::chrono::seconds(60);
constexpr auto kMaxProofWait = std::chrono::seconds(5);

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

// WatchCommits: how long one wait for the next commit lasts before the stream checks whether
// its client is still there.
constexpr auto kWatchPoll = std::chrono::milliseconds(250);

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Sends committed block `height` as its summary parts: from the node's recent summaries when
// it has them (built once at commit for every stream), else read back from the ledger (a
// replay, or a stream that lags more than CommitSummaryRing::kCapacity blocks). A non-OK
// status ends the stream.
grpc::Status WriteCommittedBlock(const Node& node, uint64_t height, int64_t committed_at_ms,
                                 grpc::ServerWriter<v1::CommittedBlockSummary>* writer) {
  std::shared_ptr<const CommitSummary> recent = node.RecentCommitSummary(height);
  if (recent == nullptr) {
    auto read = ReadCommitSummary(node.ledger(), height);
    if (!read) return ToGrpcStatus(read.error());
    recent = std::make_shared<const CommitSummary>(std::move(*read));
  }
  v1::CommittedBlockSummary message;
  for (const v1::CommittedBlockSummary& part : *recent) {
    message = part;  // a copy: other streams share the part, and their commit time differs
    message.set_committed_at_ms(committed_at_ms);
    if (!writer->Write(message)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
  }
  return grpc::Status::OK;
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

  grpc::Status WatchCommits(grpc::ServerContext* ctx, const v1::WatchCommitsRequest* req,
                            grpc::ServerWriter<v1::CommittedBlockSummary>* writer) override {
    const ledger::Ledger& ledger = node_.ledger();
    // Blocks up to the head at the call's start are replays: their commit time is unknown.
    const uint64_t replay_until = ledger.head().height();
    uint64_t next = req->from_height() == 0 ? replay_until + 1 : req->from_height();
    while (!ctx->IsCancelled()) {
      auto reached =
          node_.WaitForHeight(next - 1, std::chrono::steady_clock::now() + kWatchPoll);
      if (!reached) return ToGrpcStatus(reached.error());
      const int64_t seen_ms = WallClockMs();
      for (; next <= *reached; ++next) {
        if (ctx->IsCancelled()) break;
        auto sent = WriteCommittedBlock(node_, next, next <= replay_until ? 0 : seen_ms, writer);
        if (!sent.ok()) return sent;
      }
    }
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream");
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
    auto events = ledger_.GetLotHistory(**lot, kMaxHistoryEvents);
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

  grpc::Status GetProvenance(grpc::ServerContext*, const v1::GetProvenanceRequest* req,
                             v1::Provenance* resp) override {
    if (req->lot_id().empty() == req->shipment_id().empty()) {
      return Invalid("give exactly one of lot_id and shipment_id");
    }
    auto p = ledger_.GetProvenance(req->lot_id(), req->shipment_id());
    if (!p) return ToGrpcStatus(p.error());
    *resp = std::move(*p);
    return grpc::Status::OK;
  }

  grpc::Status GetProvenanceProof(grpc::ServerContext* ctx, const v1::GetProvenanceRequest* req,
                                  v1::ProvenanceProof* resp) override {
    if (req->lot_id().empty() == req->shipment_id().empty()) {
      return Invalid("give exactly one of lot_id and shipment_id");
    }
    auto graph = CollectProvenanceGraph(ledger_, req->lot_id(), req->shipment_id());
    if (!graph) return ToGrpcStatus(graph.error());
    // The root in a header lags the head by three heights: the newest events may need a few
    // more blocks before a certified root covers them. Wait on the head certificate's leaf
    // count (one read), then build the bundle once.
    const auto deadline = std::chrono::steady_clock::now() + kMaxProofWait;
    for (;;) {
      auto certificate = HeadCertificate(ledger_);
      if (!certificate && certificate.error().code != ErrorCode::kUnavailable) {
        return ToGrpcStatus(certificate.error());
      }
      if (certificate && certificate->header().ledger_root().leaf_count() > graph->newest_leaf) {
        auto bundle =
            BuildProvenanceProof(ledger_, *graph, certificate->header(), certificate->qc());
        if (!bundle) return ToGrpcStatus(bundle.error());
        *resp = std::move(*bundle);
        return grpc::Status::OK;
      }
      if (std::chrono::steady_clock::now() >= deadline || ctx->IsCancelled()) {
        return ToGrpcStatus(certificate
                                ? Error{ErrorCode::kUnavailable,
                                        NotCoveredYet(*graph, certificate->header().ledger_root())}
                                : certificate.error());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  grpc::Status GetConsistencyBundle(grpc::ServerContext*,
                                    const v1::GetConsistencyBundleRequest* req,
                                    v1::ConsistencyBundle* resp) override {
    auto bundle = BuildConsistencyBundleAtHeights(ledger_, req->first_block_height(),
                                                  req->second_block_height());
    if (!bundle) return ToGrpcStatus(bundle.error());
    *resp = std::move(*bundle);
    return grpc::Status::OK;
  }

  grpc::Status GetIncident(grpc::ServerContext*, const v1::GetIncidentRequest* req,
                           v1::Incident* resp) override {
    if (req->incident_id().empty()) return Invalid("incident_id is empty");
    auto i = ledger_.GetIncident(req->incident_id());
    if (!i) return ToGrpcStatus(i.error());
    if (!i->has_value()) return NotFound("no incident '" + req->incident_id() + "'");
    *resp = std::move(**i);
    return grpc::Status::OK;
  }

  grpc::Status ListIncidents(grpc::ServerContext*, const v1::ListIncidentsRequest* req,
                             v1::ListIncidentsResponse* resp) override {
    if (!v1::IncidentSubjectKind_IsValid(req->subject_kind())) {
      return Invalid("unknown subject_kind " + std::to_string(req->subject_kind()));
    }
    if (req->subject_id().empty() !=
        (req->subject_kind() == v1::INCIDENT_SUBJECT_UNSPECIFIED)) {
      return Invalid("subject_kind and subject_id go together: give both or neither");
    }
    if (!v1::IncidentStatus_IsValid(req->status())) {
      return Invalid("unknown incident status " + std::to_string(req->status()));
    }
    if (req->level() > 3) return Invalid("level is 1..3 (or 0 for any)");
    if (!v1::IncidentCategory_IsValid(req->category())) {
      return Invalid("unknown incident category " + std::to_string(req->category()));
    }
    auto size = PageSize(req->page_size());
    if (!size) return ToGrpcStatus(size.error());
    ledger::IncidentFilter filter;
    filter.subject_kind = req->subject_kind();
    filter.subject_id = req->subject_id();
    if (filter.subject_kind == v1::INCIDENT_SUBJECT_MEMBER) {
      // Member subjects are stored as lowercase hex keys; accept either case.
      for (char& c : filter.subject_id) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
      }
    }
    filter.status = req->status();
    filter.level = req->level();
    filter.category = req->category();
    filter.open_only = req->open_only();
    auto page = ledger_.ListIncidents(filter, req->page_token(), *size);
    if (!page) return ToGrpcStatus(page.error());
    for (auto& i : page->items) *resp->add_incidents() = std::move(i);
    resp->set_next_page_token(page->next_page_token);
    return grpc::Status::OK;
  }

  grpc::Status ListFlags(grpc::ServerContext*, const v1::ListFlagsRequest* req,
                         v1::ListFlagsResponse* resp) override {
    if (!req->member_key().empty() && req->member_key().size() != 32) {
      return Invalid("member_key must be a 32-byte public key, got " +
                     std::to_string(req->member_key().size()) + " bytes");
    }
    auto size = PageSize(req->page_size());
    if (!size) return ToGrpcStatus(size.error());
    ledger::FlagFilter filter{req->kind(), req->lot_id(), req->site_id(), req->member_key()};
    auto page = ledger_.ListFlags(filter, req->page_token(), *size);
    if (!page) return ToGrpcStatus(page.error());
    for (auto& f : page->items) *resp->add_flags() = std::move(f);
    resp->set_next_page_token(page->next_page_token);
    return grpc::Status::OK;
  }

  grpc::Status GetShipment(grpc::ServerContext*, const v1::GetShipmentRequest* req,
                           v1::Shipment* resp) override {
    if (req->shipment_id().empty()) return Invalid("shipment_id is empty");
    auto s = ledger_.GetShipment(req->shipment_id());
    if (!s) return ToGrpcStatus(s.error());
    if (!s->has_value()) return NotFound("no shipment '" + req->shipment_id() + "'");
    *resp = std::move(**s);
    return grpc::Status::OK;
  }

  grpc::Status ListShipments(grpc::ServerContext*, const v1::ListShipmentsRequest* req,
                             v1::ListShipmentsResponse* resp) override {
    if (!req->exporter_key().empty() && req->exporter_key().size() != 32) {
      return Invalid("exporter_key must be a 32-byte public key, got " +
                     std::to_string(req->exporter_key().size()) + " bytes");
    }
    if (!v1::ShipmentStatus_IsValid(req->status())) {
      return Invalid("unknown shipment status " + std::to_string(req->status()));
    }
    auto size = PageSize(req->page_size());
    if (!size) return ToGrpcStatus(size.error());
    ledger::ShipmentFilter filter{req->exporter_key(), req->status()};
    auto page = ledger_.ListShipments(filter, req->page_token(), *size);
    if (!page) return ToGrpcStatus(page.error());
    for (auto& s : page->items) *resp->add_shipments() = std::move(s);
    resp->set_next_page_token(page->next_page_token);
    return grpc::Status::OK;
  }

  grpc::Status ListInspections(grpc::ServerContext*, const v1::ListInspectionsRequest* req,
                               v1::ListInspectionsResponse* resp) override {
    if (req->site_id().empty()) return Invalid("site_id is empty");
    auto list = ledger_.ListInspections(req->site_id());
    if (!list) return ToGrpcStatus(list.error());
    if (!list->has_value()) return NotFound("no mine site '" + req->site_id() + "'");
    for (auto& i : **list) *resp->add_inspections() = std::move(i);
    return grpc::Status::OK;
  }

  grpc::Status GetSiteProduction(grpc::ServerContext*, const v1::GetSiteProductionRequest* req,
                                 v1::SiteProduction* resp) override {
    if (req->site_id().empty()) return Invalid("site_id is empty");
    // The ledger checks the range (not negative, not backward, at most 120 months).
    auto p = ledger_.GetSiteProduction(req->site_id(), req->from_ms(), req->to_ms());
    if (!p) return ToGrpcStatus(p.error());
    if (!p->has_value()) return NotFound("no mine site '" + req->site_id() + "'");
    *resp = std::move(**p);
    return grpc::Status::OK;
  }

  grpc::Status GetHoldings(grpc::ServerContext*, const v1::GetHoldingsRequest* req,
                           v1::Holdings* resp) override {
    if (req->member_key().size() != 32) {
      return Invalid("member_key must be a 32-byte public key, got " +
                     std::to_string(req->member_key().size()) + " bytes");
    }
    auto h = ledger_.GetHoldings(req->member_key());
    if (!h) return ToGrpcStatus(h.error());
    if (!h->has_value()) return NotFound("no member " + ToHex(AsBytes(req->member_key())));
    *resp = std::move(**h);
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
