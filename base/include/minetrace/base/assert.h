// MT_ASSERT checks an invariant that must hold whatever the input: a failed assertion is a
// bug in minetrace, never a verdict on bad input (that is a Result error). Always on, also in
// release builds, because a ledger that goes on after a broken invariant can commit garbage.
#pragma once

namespace minetrace::detail {
[[noreturn]] void AssertFail(const char* expr, const char* file, int line);
}  // namespace minetrace::detail

#define MT_ASSERT(cond)                                                             \
  do {                                                                              \
    if (!(cond)) [[unlikely]] ::minetrace::detail::AssertFail(#cond, __FILE__, __LINE__); \
  } while (0)
