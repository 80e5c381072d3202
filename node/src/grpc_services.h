// The gRPC services of the node (proto/minetrace/v1/node.proto). Handlers run on gRPC's
// threads, validate requests, and call the Node (admission, waiting) or read the Ledger.
// Error codes map to gRPC status codes in one place (ToGrpcStatus).
#pragma once

#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/service_type.h>

#include "minetrace/base/result.h"

namespace minetrace::node {

class Node;

grpc::Status ToGrpcStatus(const Error& error);
grpc::StatusCode ToGrpcCode(ErrorCode code);

// `node` must outlive the services.
std::vector<std::unique_ptr<grpc::Service>> MakeGrpcServices(Node& node);

}  // namespace minetrace::node
