// Errors thrown into JS the same way by both addons (masq_tun, masq_udp):
// compiled into each from native/napi-errors.cc.
#pragma once

#include <node_api.h>

namespace masq_native {

// Throws an Error like Node's own system errors: "<syscall> <subject>: <text> (<CODE>)",
// with .code (EAGAIN, ...), .errno (negative, as libuv's) and .syscall. `err` is a positive errno.
void ThrowSystemError(napi_env env, int err, const char* syscall, const char* subject);

// When an N-API call failed: throws `code` with `what` unless an exception is already pending;
// true when it failed.
bool ThrowIfFailed(napi_env env, napi_status status, const char* code, const char* what);

}  // namespace masq_native
