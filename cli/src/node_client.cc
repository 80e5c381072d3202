#include "node_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

namespace minetrace::cli {
namespace {

// Histories and proofs of long custody chains can exceed gRPC's 4 MiB default.
constexpr int kMaxReceiveBytes = 256 << 20;
// WaitTx: the node gives up after the requested wait; our deadline comes a little later so
// that its answer (with its message) arrives rather than a bare local DEADLINE_EXCEEDED.
constexpr std::chrono::milliseconds kWaitGrace{2000};

std::string Bytes32(const Hash32& h) { return std::string(h.begin(), h.end()); }

}  // namespace

NodeClient::NodeClient(std::string address, std::chrono::milliseconds timeout)
    : address_(std::move(address)), timeout_(timeout) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  tx_ = v1::TxService::NewStub(channel_);
  query_ = v1::QueryService::NewStub(channel_);
  node_ = v1::NodeService::NewStub(channel_);
}

template <class Response, class Fn>
CommandResult<Response> NodeClient::Call(std::string_view method, std::chrono::milliseconds timeout,
                                         Fn&& fn) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  Response response;
  const grpc::Status status = fn(&context, &response);
  if (!status.ok()) {
    // A deadline that passed while the channel was connected is the node being slow or a
    // wait running out; one that passed before any connection means the node is unreachable.
    const bool connected = answered_once_ || channel_->GetState(false) == GRPC_CHANNEL_READY;
    return RpcFailure(std::string(method) + " on " + address_, status, connected);
  }
  answered_once_ = true;
  return response;
}

CommandResult<v1::StatusResponse> NodeClient::Status() {
  return Call<v1::StatusResponse>("Status", timeout_, [&](auto* ctx, auto* resp) {
    return node_->Status(ctx, v1::StatusRequest(), resp);
  });
}

CommandResult<v1::SubmitTxResponse> NodeClient::SubmitTx(const v1::SignedTx& tx) {
  v1::SubmitTxRequest request;
  *request.mutable_tx() = tx;
  return Call<v1::SubmitTxResponse>("SubmitTx", timeout_, [&](auto* ctx, auto* resp) {
    return tx_->SubmitTx(ctx, request, resp);
  });
}

CommandResult<v1::TxWithReceipt> NodeClient::WaitTx(const Hash32& tx_id,
                                                    std::chrono::milliseconds wait) {
  v1::WaitTxRequest request;
  request.set_tx_id(Bytes32(tx_id));
  request.set_timeout_ms(static_cast<uint32_t>(wait.count()));
  return Call<v1::TxWithReceipt>("WaitTx", wait + kWaitGrace, [&](auto* ctx, auto* resp) {
    return tx_->WaitTx(ctx, request, resp);
  });
}

CommandResult<v1::TxWithReceipt> NodeClient::GetTx(const Hash32& tx_id) {
  v1::GetTxRequest request;
  request.set_tx_id(Bytes32(tx_id));
  return Call<v1::TxWithReceipt>(
      "GetTx", timeout_, [&](auto* ctx, auto* resp) { return tx_->GetTx(ctx, request, resp); });
}

CommandResult<v1::Lot> NodeClient::GetLot(const std::string& lot_id) {
  v1::GetLotRequest request;
  request.set_lot_id(lot_id);
  return Call<v1::Lot>("GetLot", timeout_,
                       [&](auto* ctx, auto* resp) { return query_->GetLot(ctx, request, resp); });
}

CommandResult<v1::LotHistory> NodeClient::GetLotHistory(const std::string& lot_id) {
  v1::GetLotHistoryRequest request;
  request.set_lot_id(lot_id);
  return Call<v1::LotHistory>("GetLotHistory", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetLotHistory(ctx, request, resp);
  });
}

CommandResult<v1::ListLotsResponse> NodeClient::ListLots(const v1::ListLotsRequest& request) {
  return Call<v1::ListLotsResponse>("ListLots", timeout_, [&](auto* ctx, auto* resp) {
    return query_->ListLots(ctx, request, resp);
  });
}

CommandResult<v1::MineSite> NodeClient::GetMineSite(const std::string& site_id) {
  v1::GetMineSiteRequest request;
  request.set_site_id(site_id);
  return Call<v1::MineSite>("GetMineSite", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetMineSite(ctx, request, resp);
  });
}

CommandResult<v1::ListMineSitesResponse> NodeClient::ListMineSites(
    const v1::ListMineSitesRequest& request) {
  return Call<v1::ListMineSitesResponse>("ListMineSites", timeout_, [&](auto* ctx, auto* resp) {
    return query_->ListMineSites(ctx, request, resp);
  });
}

CommandResult<v1::Member> NodeClient::GetMember(const Hash32& member_key) {
  v1::GetMemberRequest request;
  request.set_member_key(Bytes32(member_key));
  return Call<v1::Member>("GetMember", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetMember(ctx, request, resp);
  });
}

CommandResult<v1::Tag> NodeClient::GetTag(const std::string& tag_id) {
  v1::GetTagRequest request;
  request.set_tag_id(tag_id);
  return Call<v1::Tag>("GetTag", timeout_,
                       [&](auto* ctx, auto* resp) { return query_->GetTag(ctx, request, resp); });
}

CommandResult<v1::TxProof> NodeClient::GetTxProof(const Hash32& tx_id) {
  v1::GetTxProofRequest request;
  request.set_tx_id(Bytes32(tx_id));
  return Call<v1::TxProof>("GetTxProof", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetTxProof(ctx, request, resp);
  });
}

CommandResult<v1::SignedLedgerInfo> NodeClient::GetLedgerInfo() {
  return Call<v1::SignedLedgerInfo>("GetLedgerInfo", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetLedgerInfo(ctx, v1::GetLedgerInfoRequest(), resp);
  });
}

}  // namespace minetrace::cli
