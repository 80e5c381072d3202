// Result<T> is the one error-as-value type of minetrace: either a T or an Error with a code
// and a message a person can act on. Libraries return it from every fallible operation;
// exceptions never cross a module boundary. The codes mirror the gRPC codes the node
// answers with, so the mapping at the edge is one table (node/grpc_status.cc).
// Thread-safety: plain values.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace minetrace {

enum class ErrorCode {
  kInvalidArgument,     // the input is malformed or breaks a stateless rule
  kPermissionDenied,    // the signer may not do this (unknown, suspended, wrong role)
  kFailedPrecondition,  // the state does not allow it now (tag used, lot not held, ...)
  kAlreadyExists,       // duplicate (tx replay, member or site registered twice)
  kNotFound,            // no such lot, site, member, tag, tx
  kResourceExhausted,   // a bound was hit (mempool full, request too large)
  kUnavailable,         // try again later (shutting down, not ready)
  kDeadlineExceeded,    // a wait ended before what it waited for happened
  kDataLoss,            // stored data is corrupt or does not match what it must
  kInternal,            // a bug or an environment failure (disk, OS)
};

std::string_view ErrorCodeName(ErrorCode code);  // for people: "failed precondition"
// The gRPC status code name, e.g. "FAILED_PRECONDITION": recorded in failed receipts.
std::string_view ErrorCodeId(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  std::string ToString() const;
};

template <class T = void>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using tl::expected<T, Error>::expected;
  Result(tl::unexpected<Error> e) : tl::expected<T, Error>(std::move(e)) {}  // NOLINT
};

inline tl::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace minetrace

// Propagates an error from an expression returning Result<...>; evaluates to nothing.
#define MT_TRY(expr)                                                    \
  do {                                                                  \
    auto mt_try_result_ = (expr);                                       \
    if (!mt_try_result_) return tl::unexpected(mt_try_result_.error()); \
  } while (0)
