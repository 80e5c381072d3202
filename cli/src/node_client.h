// NodeClient is the CLI's connection to one minetrace node over gRPC: one channel, the three
// service stubs, and a deadline on every call. Errors come back as a Failure whose exit code
// tells "could not reach the node" (3) from "the node answered no" (1).
// Not thread-safe: the CLI makes one call at a time.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "failure.h"
#include "minetrace/base/bytes.h"
#include "minetrace/base/result.h"
#include "minetrace/v1/node.grpc.pb.h"

namespace minetrace::cli {

class NodeClient {
 public:
  // address is host:port; timeout bounds each call (a WaitTx call gets its wait on top).
  NodeClient(std::string address, std::chrono::milliseconds timeout);
  NodeClient(const NodeClient&) = delete;
  NodeClient& operator=(const NodeClient&) = delete;

  const std::string& address() const { return address_; }

  CommandResult<v1::StatusResponse> Status();
  CommandResult<v1::SubmitTxResponse> SubmitTx(const v1::SignedTx& tx);
  CommandResult<v1::SubmitTxsResponse> SubmitTxs(const v1::SubmitTxsRequest& request);
  // Waits up to `wait` for the tx to commit (the node's DEADLINE_EXCEEDED if it does not).
  CommandResult<v1::TxWithReceipt> WaitTx(const Hash32& tx_id, std::chrono::milliseconds wait);
  CommandResult<v1::TxWithReceipt> GetTx(const Hash32& tx_id);
  CommandResult<v1::Lot> GetLot(const std::string& lot_id);
  CommandResult<v1::LotHistory> GetLotHistory(const std::string& lot_id);
  CommandResult<v1::ListLotsResponse> ListLots(const v1::ListLotsRequest& request);
  CommandResult<v1::MineSite> GetMineSite(const std::string& site_id);
  CommandResult<v1::ListMineSitesResponse> ListMineSites(const v1::ListMineSitesRequest& request);
  CommandResult<v1::Member> GetMember(const Hash32& member_key);
  CommandResult<v1::Tag> GetTag(const std::string& tag_id);
  CommandResult<v1::TxProof> GetTxProof(const Hash32& tx_id);
  CommandResult<v1::SignedLedgerInfo> GetLedgerInfo();
  CommandResult<v1::Provenance> GetProvenance(const v1::GetProvenanceRequest& request);
  // The node may wait up to 5 s for a certified root; the call gets that on top of timeout.
  CommandResult<v1::ProvenanceProof> GetProvenanceProof(const v1::GetProvenanceRequest& request);
  CommandResult<v1::ConsistencyBundle> GetConsistencyBundle(
      const v1::GetConsistencyBundleRequest& request);
  CommandResult<v1::Incident> GetIncident(const std::string& incident_id);
  CommandResult<v1::ListIncidentsResponse> ListIncidents(const v1::ListIncidentsRequest& request);
  CommandResult<v1::ListFlagsResponse> ListFlags(const v1::ListFlagsRequest& request);
  CommandResult<v1::Shipment> GetShipment(const std::string& shipment_id);
  CommandResult<v1::ListShipmentsResponse> ListShipments(const v1::ListShipmentsRequest& request);
  CommandResult<v1::ListInspectionsResponse> ListInspections(const std::string& site_id);
  CommandResult<v1::SiteProduction> GetSiteProduction(const v1::GetSiteProductionRequest& request);
  CommandResult<v1::Holdings> GetHoldings(const Hash32& member_key);
  // Opens a WatchCommits stream (no deadline: `context` cancels it). The stub is thread-safe:
  // the stream may be read on another thread while this client makes other calls.
  std::unique_ptr<grpc::ClientReader<v1::CommittedBlockSummary>> OpenCommitStream(
      grpc::ClientContext& context, uint64_t from_height);

 private:
  // Runs one unary call with a deadline of `timeout` from now and maps its status.
  template <class Response, class Fn>
  CommandResult<Response> Call(std::string_view method, std::chrono::milliseconds timeout, Fn&& fn);

  std::string address_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::TxService::Stub> tx_;
  std::unique_ptr<v1::QueryService::Stub> query_;
  std::unique_ptr<v1::NodeService::Stub> node_;
  bool answered_once_ = false;  // some call succeeded: the node is reachable
};

// ---- finding the nodes of a network folder (`minetrace status --net DIR`) ----

// A node of a network folder: the name of its folder and the address of its gRPC API.
struct NetworkNode {
  std::string name;
  std::string grpc_address;
};

// The address to reach a node at, from its config (TOML) text: the top-level grpc_listen, or
// the node's own default 127.0.0.1:7000 when it is absent. A wildcard host (0.0.0.0, [::] or
// none) becomes the loopback address, where this machine reaches such a node.
// kInvalidArgument when grpc_listen is not a one-line quoted string without escapes (the CLI
// links no TOML parser, and `minetrace testnet` never writes anything else there).
Result<std::string> GrpcAddressFromConfig(std::string_view toml_text);

// Every DIR/<name>/config.toml, in the order node0, node1, ..., node10, observer0, ...
// (names compared with their trailing numbers as numbers). kNotFound when DIR has none.
Result<std::vector<NetworkNode>> FindNetworkNodes(const std::filesystem::path& dir);

}  // namespace minetrace::cli
