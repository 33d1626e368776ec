// Region: the JS face of a Mapping. Lends the memory as an ArrayBuffer and offers atomics and
// wp-following bulk copies at bounds-checked offsets. Offsets and sizes are re-checked here only
// to the extent needed never to touch memory outside the mapping; meaning is checked in TS.
#pragma once
#include <napi.h>

#include "mapping.h"

namespace glasspane {

class Region : public Napi::ObjectWrap<Region> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Region(const Napi::CallbackInfo& info);
  ~Region() override;

  // For the Watcher: the mapping, or a thrown "closed" error.
  MappingRef GetMapping(Napi::Env env);

  // Closes without touching JS (used at environment teardown).
  void CloseForExit();

 private:
  Napi::Value GetBuffer(const Napi::CallbackInfo& info);
  Napi::Value GetByteLength(const Napi::CallbackInfo& info);
  Napi::Value GetPath(const Napi::CallbackInfo& info);
  Napi::Value GetKind(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Napi::Value Load32(const Napi::CallbackInfo& info);
  Napi::Value Store32(const Napi::CallbackInfo& info);
  Napi::Value Cas32(const Napi::CallbackInfo& info);
  Napi::Value Add32(const Napi::CallbackInfo& info);
  Napi::Value And32(const Napi::CallbackInfo& info);
  Napi::Value Or32(const Napi::CallbackInfo& info);
  Napi::Value Xchg32(const Napi::CallbackInfo& info);
  Napi::Value Load64(const Napi::CallbackInfo& info);
  Napi::Value Store64(const Napi::CallbackInfo& info);
  Napi::Value Cas64(const Napi::CallbackInfo& info);
  Napi::Value Add64(const Napi::CallbackInfo& info);
  Napi::Value And64(const Napi::CallbackInfo& info);
  Napi::Value Or64(const Napi::CallbackInfo& info);
  Napi::Value Xchg64(const Napi::CallbackInfo& info);

  Napi::Value CopyOut(const Napi::CallbackInfo& info);
  Napi::Value CopyOutAsync(const Napi::CallbackInfo& info);
  Napi::Value WriteIn(const Napi::CallbackInfo& info);
  Napi::Value WriteInAsync(const Napi::CallbackInfo& info);

  uint8_t* CheckedPtr(Napi::Env env, const Napi::Value& off, size_t width, size_t align);
  void CloseNow(bool detach);

  MappingRef mapping_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  bool closed_ = false;
};

// Throws a JS Error shaped like Node's fs errors: message, code ("ENOENT"), errno (negative, as
// in Node), syscall, path.
[[noreturn]] void ThrowSysError(Napi::Env env, const SysError& e);

}  // namespace glasspane
