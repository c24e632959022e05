// N-API helpers both addons (masq_tun, masq_udp) use the same way: errors
// thrown into JS, strings read from JS, buffers shared with JS. Compiled into
// each from native/napi-shared.cc.
#pragma once

#include <node_api.h>
#include <stddef.h>

namespace masq_native {

// Throws an Error like Node's own system errors: "<syscall> <subject>: <text> (<CODE>)",
// with .code (EAGAIN, ...), .errno (negative, as libuv's) and .syscall. `err` is a positive errno.
void ThrowSystemError(napi_env env, int err, const char* syscall, const char* subject);

// When an N-API call failed: throws `code` with `what` unless an exception is already pending;
// true when it failed.
bool ThrowIfFailed(napi_env env, napi_status status, const char* code, const char* what);

// A JS string into out (size bytes with its NUL); throws `what` (a type or range error) and
// returns false when it is not a string or does not fit.
bool GetString(napi_env env, napi_value value, char* out, size_t size, const char* what);

// An ArrayBuffer of `bytes` that native code keeps (a strong reference in *ref) and reads or
// writes through *data. `clear`: zero it here; a large buffer left uncleared stays unbacked
// until it is written.
napi_value CreateSharedArray(napi_env env, size_t bytes, void** data, napi_ref* ref, bool clear = true);

}  // namespace masq_native
