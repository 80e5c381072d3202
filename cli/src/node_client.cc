#include "node_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <fstream>
#include <tuple>

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

CommandResult<v1::SubmitTxsResponse> NodeClient::SubmitTxs(const v1::SubmitTxsRequest& request) {
  return Call<v1::SubmitTxsResponse>("SubmitTxs", timeout_, [&](auto* ctx, auto* resp) {
    return tx_->SubmitTxs(ctx, request, resp);
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

std::unique_ptr<grpc::ClientReader<v1::CommittedBlockSummary>> NodeClient::OpenCommitStream(
    grpc::ClientContext& context, uint64_t from_height) {
  v1::WatchCommitsRequest request;
  request.set_from_height(from_height);
  return tx_->WatchCommits(&context, request);
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

CommandResult<v1::Provenance> NodeClient::GetProvenance(const v1::GetProvenanceRequest& request) {
  return Call<v1::Provenance>("GetProvenance", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetProvenance(ctx, request, resp);
  });
}

CommandResult<v1::ProvenanceProof> NodeClient::GetProvenanceProof(
    const v1::GetProvenanceRequest& request) {
  return Call<v1::ProvenanceProof>(
      "GetProvenanceProof", timeout_ + std::chrono::seconds(5),
      [&](auto* ctx, auto* resp) { return query_->GetProvenanceProof(ctx, request, resp); });
}

CommandResult<v1::ConsistencyBundle> NodeClient::GetConsistencyBundle(
    const v1::GetConsistencyBundleRequest& request) {
  return Call<v1::ConsistencyBundle>(
      "GetConsistencyBundle", timeout_,
      [&](auto* ctx, auto* resp) { return query_->GetConsistencyBundle(ctx, request, resp); });
}

CommandResult<v1::Incident> NodeClient::GetIncident(const std::string& incident_id) {
  v1::GetIncidentRequest request;
  request.set_incident_id(incident_id);
  return Call<v1::Incident>("GetIncident", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetIncident(ctx, request, resp);
  });
}

CommandResult<v1::ListIncidentsResponse> NodeClient::ListIncidents(
    const v1::ListIncidentsRequest& request) {
  return Call<v1::ListIncidentsResponse>("ListIncidents", timeout_, [&](auto* ctx, auto* resp) {
    return query_->ListIncidents(ctx, request, resp);
  });
}

CommandResult<v1::ListFlagsResponse> NodeClient::ListFlags(const v1::ListFlagsRequest& request) {
  return Call<v1::ListFlagsResponse>("ListFlags", timeout_, [&](auto* ctx, auto* resp) {
    return query_->ListFlags(ctx, request, resp);
  });
}

CommandResult<v1::Shipment> NodeClient::GetShipment(const std::string& shipment_id) {
  v1::GetShipmentRequest request;
  request.set_shipment_id(shipment_id);
  return Call<v1::Shipment>("GetShipment", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetShipment(ctx, request, resp);
  });
}

CommandResult<v1::ListShipmentsResponse> NodeClient::ListShipments(
    const v1::ListShipmentsRequest& request) {
  return Call<v1::ListShipmentsResponse>("ListShipments", timeout_, [&](auto* ctx, auto* resp) {
    return query_->ListShipments(ctx, request, resp);
  });
}

CommandResult<v1::ListInspectionsResponse> NodeClient::ListInspections(
    const std::string& site_id) {
  v1::ListInspectionsRequest request;
  request.set_site_id(site_id);
  return Call<v1::ListInspectionsResponse>("ListInspections", timeout_, [&](auto* ctx, auto* resp) {
    return query_->ListInspections(ctx, request, resp);
  });
}

CommandResult<v1::SiteProduction> NodeClient::GetSiteProduction(
    const v1::GetSiteProductionRequest& request) {
  return Call<v1::SiteProduction>("GetSiteProduction", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetSiteProduction(ctx, request, resp);
  });
}

CommandResult<v1::Holdings> NodeClient::GetHoldings(const Hash32& member_key) {
  v1::GetHoldingsRequest request;
  request.set_member_key(Bytes32(member_key));
  return Call<v1::Holdings>("GetHoldings", timeout_, [&](auto* ctx, auto* resp) {
    return query_->GetHoldings(ctx, request, resp);
  });
}

namespace {

constexpr const char* kNodeDefaultGrpcListen = "127.0.0.1:7000";  // NodeConfig's default
// A config larger than this is not one `minetrace testnet` wrote; stop reading there.
constexpr std::streamsize kMaxConfigBytes = 1 << 20;
// A folder holds at most this many nodes (testnet makes at most 200).
constexpr size_t kMaxNetworkNodes = 1000;

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

// "0.0.0.0:7000" -> "127.0.0.1:7000", "[::]:7000" -> "[::1]:7000", ":7000" -> "127.0.0.1:7000".
std::string ReachableAddress(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return listen;
  const std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon);
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1" + port;
  if (host == "[::]") return "[::1]" + port;
  return listen;
}

// ("node", 10) for "node10"; ("admin", -1) for a name without a trailing number.
std::tuple<std::string, long long, std::string> NaturalKey(const std::string& name) {
  size_t digits = name.size();
  while (digits > 0 && name[digits - 1] >= '0' && name[digits - 1] <= '9') --digits;
  const std::string tail = name.substr(digits);
  if (tail.empty() || tail.size() > 18) return {name, -1, name};
  return {name.substr(0, digits), std::stoll(tail), name};
}

}  // namespace

Result<std::string> GrpcAddressFromConfig(std::string_view toml_text) {
  std::string_view rest = toml_text;
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    const std::string_view line = Trim(rest.substr(0, eol));
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[') break;  // the top-level keys end at the first table
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = Trim(line.substr(0, eq));
    if (key != "grpc_listen" && key != "\"grpc_listen\"") continue;
    const std::string_view value = Trim(line.substr(eq + 1));
    const auto bad = MakeError(ErrorCode::kInvalidArgument,
                               "grpc_listen must be a quoted \"host:port\" on one line");
    if (value.size() < 2 || (value.front() != '"' && value.front() != '\'')) return bad;
    const char quote = value.front();
    const size_t close = value.find(quote, 1);
    if (close == std::string_view::npos || close == 1) return bad;
    const std::string_view address = value.substr(1, close - 1);
    if (address.find('\\') != std::string_view::npos) return bad;
    const std::string_view after = Trim(value.substr(close + 1));
    if (!after.empty() && after.front() != '#') return bad;
    return ReachableAddress(std::string(address));
  }
  return std::string(kNodeDefaultGrpcListen);
}

Result<std::vector<NetworkNode>> FindNetworkNodes(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return MakeError(ErrorCode::kNotFound, dir.string() + " is not a directory");
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_directory(ec) || !fs::is_regular_file(it->path() / "config.toml", ec)) continue;
    if (names.size() >= kMaxNetworkNodes) {
      return MakeError(
          ErrorCode::kInvalidArgument,
          dir.string() + " holds more than " + std::to_string(kMaxNetworkNodes) + " node folders");
    }
    names.push_back(it->path().filename().string());
  }
  if (ec)
    return MakeError(ErrorCode::kInternal, "cannot list " + dir.string() + ": " + ec.message());
  if (names.empty()) {
    return MakeError(ErrorCode::kNotFound,
                     "no node configs (" + (dir / "*" / "config.toml").string() + ") found");
  }
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return NaturalKey(a) < NaturalKey(b);
  });
  std::vector<NetworkNode> nodes;
  for (const std::string& name : names) {
    const fs::path file = dir / name / "config.toml";
    std::ifstream in(file);
    if (!in) return MakeError(ErrorCode::kNotFound, "cannot read " + file.string());
    std::string text(static_cast<size_t>(kMaxConfigBytes), '\0');
    in.read(text.data(), kMaxConfigBytes);
    text.resize(static_cast<size_t>(in.gcount()));
    auto address = GrpcAddressFromConfig(text);
    if (!address) {
      return MakeError(address.error().code, file.string() + ": " + address.error().message);
    }
    nodes.push_back({name, *address});
  }
  return nodes;
}

}  // namespace minetrace::cli
