// Region: the JS face of a Mapping. Lends the memory as an ArrayBuffer and offers atomics and
// wp-following bulk copies at bounds-checked offsets. Offsets and sizes are re-checked here only
// to the extent needed never to touch memory outside the mapping; meaning is checked in TS.
#pragma once
#include <napi.h>

#include "addon_state.h"
#include "mapping.h"

namespace glasspane {

enum class AtomicOp { kLoad, kStore, kCas, kAdd, kAnd, kOr, kXchg };

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
  Napi::Value GetBroken(const Napi::CallbackInfo& info);
  Napi::Value GetFileId(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  template <typename T, AtomicOp op>
  Napi::Value Atomic(const Napi::CallbackInfo& info);

  Napi::Value CopyOut(const Napi::CallbackInfo& info);
  Napi::Value CopyOutAsync(const Napi::CallbackInfo& info);
  Napi::Value WriteIn(const Napi::CallbackInfo& info);
  Napi::Value WriteInAsync(const Napi::CallbackInfo& info);

  uint8_t* CheckedPtr(Napi::Env env, const Napi::Value& off, size_t width, size_t align);
  void CloseNow(bool detach);

  AddonState* state_;
  MappingRef mapping_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  bool closed_ = false;
};

// Closes every region the environment still has open (its teardown), without touching JS.
void CloseRegionsAtTeardown(AddonState& state);

// Throws a JS Error shaped like Node's fs errors: message, code ("ENOENT"), errno (negative, as
// in Node), syscall, path.
[[noreturn]] void ThrowSysError(Napi::Env env, const SysError& e);

}  // namespace glasspane
