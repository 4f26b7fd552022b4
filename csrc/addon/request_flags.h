// The flags of submitRequest and of the request dispatch callback (request_binding.cc), shared
// with ts/native/types.ts (SubmitFlags, EventFlags): test/native-flags.test.ts checks that both
// sides say the same.
#pragma once

namespace pyhost {
namespace request_flags {

// submitRequest(group, appKey, fields, flags, limits?)
enum Submit : int { kHasBody = 1, kPassAuthorization = 2, kMultiprocess = 4, kSingleThread = 8, kDeferWake = 16 };

// dispatch(id, status, reason, headers, body, flags, extra)
enum Event : int { kEnd = 1, kAbort = 2, kResumeInput = 4, kSendfile = 8, kRefused = 16, kTimedOut = 32, kStuck = 64 };

}  // namespace request_flags
}  // namespace pyhost
