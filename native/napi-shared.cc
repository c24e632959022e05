// See napi-shared.h.

#include "napi-shared.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

namespace masq_native {

void ThrowSystemError(napi_env env, int err, const char* syscall, const char* subject) {
  char codeName[64];
  uv_err_name_r(-err, codeName, sizeof codeName);
  char text[512];
  snprintf(text, sizeof text, "%s %s: %s (%s)", syscall, subject, strerror(err), codeName);
  napi_value message, code, error, errnoValue, syscallValue;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_string_utf8(env, codeName, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &errnoValue);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscallValue);
  napi_set_named_property(env, error, "errno", errnoValue);
  napi_set_named_property(env, error, "syscall", syscallValue);
  napi_throw(env, error);
}

bool ThrowIfFailed(napi_env env, napi_status status, const char* code, const char* what) {
  if (status == napi_ok) return false;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, code, what);
  return true;
}

bool GetString(napi_env env, napi_value value, char* out, size_t size, const char* what) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, nullptr, 0, &length) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return false;
  }
  if (length >= size) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
    return false;
  }
  napi_get_value_string_utf8(env, value, out, size, &length);
  return true;
}

napi_value CreateSharedArray(napi_env env, size_t bytes, void** data, napi_ref* ref, bool clear) {
  napi_value buffer;
  if (napi_create_arraybuffer(env, bytes, data, &buffer) != napi_ok) return nullptr;
  if (clear) memset(*data, 0, bytes);
  napi_create_reference(env, buffer, 1, ref);
  return buffer;
}

}  // namespace masq_native
