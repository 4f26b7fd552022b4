// The harness <-> tenant host protocol (twin of ts/harness/host-protocol.ts). A tenant host is a
// pyhost-daemon process started with --tenant-host: it runs harness tenants, each in an
// application group of its own, for one harness, over one UNIX-socket connection. Frames as in
// protocol.h (8-byte header); every payload is a u32 call id, then length-prefixed fields.
//
//   harness -> host
//     POOL     0 {kind, strict, target, prelude, installer}   keep `target` warm interpreters of
//              a kind, each having run `prelude`; `installer` goes first in the others
//     CALL     id {group, kind, strict, pooled, threads, path, timeout_ms, grace_ms, payload}
//              runs _pyhost_tenant.dispatch(payload) in the group, created on first use
//     REQUEST  id {group, timeout_ms, grace_ms, flags, request, body}   a WSGI request, whole;
//              `request` is a REQUEST frame's fields (protocol.h), `flags` its flags
//     DROP     id {group, wait_ms}                    close the group and end its interpreter
//     CANCEL   id                                      interrupt call `id` (python/deadlines.h)
//   host -> harness, one answer per id (any order), STUCK possibly before it
//     RESULT   id flags {text}                         dispatch's result; DROP: "ended"/"stuck"
//     RESPONSE id flags {status, reason, headers, body}   headers as "name\nvalue\n..."
//     STUCK    id                                      the call overran its grace period
// RESULT/RESPONSE flags: kTimedOut / kCancelled (its deadline interrupted it), kFailed (the text
// is an error message, not dispatch's result).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pyhost {
namespace host_wire {

enum FrameType : uint8_t {
  kPool = 40,
  kCall = 41,
  kRequest = 42,
  kDrop = 43,
  kCancel = 44,
  kResult = 50,
  kResponse = 51,
  kStuck = 52,
};

enum : uint8_t { kTimedOut = 1, kCancelled = 2, kFailed = 4 };

// A payload: u32 id, then each field as u32 length + bytes.
std::string Encode(uint32_t id, const std::vector<std::string>& fields);
// Splits a payload; false if malformed or the field count is not `count`.
bool Decode(const std::string& payload, uint32_t* id, std::vector<std::string>* fields, size_t count);

}  // namespace host_wire
}  // namespace pyhost
