// Failure is how an error leaves a `minetrace` command: what the user asked for, a code name
// (a gRPC status name such as PERMISSION_DENIED, or a command-line error name) and a message,
// plus the exit status it maps to. The pure helpers of the CLI return minetrace::Result like
// every library; commands turn those errors into a Failure at the point where they still know
// what they were doing, because the same code (say INVALID_ARGUMENT) means "fix your command
// line" when we found it and "the node refused" when the node answered it.
// Thread-safety: plain values.
#pragma once

#include <grpcpp/support/status.h>

#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "minetrace/base/result.h"

namespace minetrace::cli {

// Exit statuses of `minetrace`; scripts (deploy/, the demo) branch on them.
enum class ExitCode : int {
  kOk = 0,
  kFailed = 1,       // a refused or failed operation (node said no, FAILED receipt, I/O)
  kUsage = 2,        // the command line is wrong
  kUnreachable = 3,  // the node could not be reached
};

struct Failure {
  ExitCode exit_code = ExitCode::kFailed;
  std::string what;       // e.g. "SubmitTx on 127.0.0.1:7000"
  std::string code_name;  // e.g. "PERMISSION_DENIED"
  std::string message;

  // "minetrace: <what>: <code>: <message>" on one line (newlines in messages become spaces,
  // so that a script reading stderr line by line sees one error).
  std::string Line() const;
};

template <class T = void>
using CommandResult = tl::expected<T, Failure>;

inline tl::unexpected<Failure> Fail(ExitCode exit_code, std::string what, std::string code_name,
                                    std::string message) {
  return tl::unexpected<Failure>(
      Failure{exit_code, std::move(what), std::move(code_name), std::move(message)});
}

// The gRPC-style name of a minetrace ErrorCode ("INVALID_ARGUMENT"), so that local and remote
// errors read alike.
std::string_view ErrorCodeGrpcName(ErrorCode code);
std::string_view GrpcCodeName(grpc::StatusCode code);

// A local error (reading a file, writing a directory) while doing `what`: exit status 1.
tl::unexpected<Failure> LocalFailure(std::string what, const Error& error);
// A bad value on the command line found after parsing (a weight with four decimals): exit 2.
tl::unexpected<Failure> UsageFailure(std::string what, const Error& error);
// A failed RPC. UNAVAILABLE, and DEADLINE_EXCEEDED while the channel never got connected,
// mean the node could not be reached (exit 3); anything else is the node's answer (exit 1).
tl::unexpected<Failure> RpcFailure(std::string what, const grpc::Status& status,
                                   bool channel_was_connected);

}  // namespace minetrace::cli
