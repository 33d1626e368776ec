// glasspane native addon: map shared memory, atomics, wp-following copies, a watcher thread.
// Nothing in here knows about frames, SPICE or QEMU (see src/native.ts for the typed surface);
// sdl_grab.cc and sdl_present.cc only borrow the viewer's already-loaded SDL (capture-mode
// grabs; presenting frames with persistent textures).
#include <napi.h>

#include <cstring>

#include "addon_state.h"
#include "fast_copy.h"
#include "fault_guard.h"
#include "kvm.h"
#include "region.h"
#include "sdl_grab.h"
#include "sdl_present.h"
#include "sdl_input.h"
#include "sdl_events.h"
#include "watcher.h"

using namespace glasspane;

namespace {

Napi::Value SetStrategy(const Napi::CallbackInfo& info) {
  std::string s = info[0].ToString().Utf8Value();
  if (s == "auto") SetCopyStrategy(CopyStrategy::kAuto);
  else if (s == "memcpy") SetCopyStrategy(CopyStrategy::kMemcpy);
  else if (s == "avx2-stream") {
    if (!CpuHasAvx2()) throw Napi::Error::New(info.Env(), "this CPU has no AVX2");
    SetCopyStrategy(CopyStrategy::kAvx2Stream);
  } else throw Napi::RangeError::New(info.Env(), "copy strategy must be auto, memcpy or avx2-stream, got " + s);
  return info.Env().Undefined();
}

Napi::Value GetStrategy(const Napi::CallbackInfo& info) {
  switch (GetCopyStrategy()) {
    case CopyStrategy::kMemcpy: return Napi::String::New(info.Env(), "memcpy");
    case CopyStrategy::kAvx2Stream: return Napi::String::New(info.Env(), "avx2-stream");
    default: return Napi::String::New(info.Env(), "auto");
  }
}

// memcpyBaseline(dst, src, n): plain libc memcpy between two JS buffers, the benchmarks' yardstick.
Napi::Value MemcpyBaseline(const Napi::CallbackInfo& info) {
  auto dst = info[0].As<Napi::Uint8Array>();
  auto src = info[1].As<Napi::Uint8Array>();
  size_t n = std::min(dst.ByteLength(), src.ByteLength());
  std::memcpy(dst.Data(), src.Data(), n);
  return info.Env().Undefined();
}

// guardFaultCount(): SIGBUS faults survived in our mappings so far (process-wide; for tests).
Napi::Value FaultCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(GuardFaultCount()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InstallFaultGuard();
  // This environment's regions and watchers (each worker thread loads the addon anew).
  auto* state = new AddonState();
  env.SetInstanceData(state);
  exports.Set("Region", Region::Init(env));
  exports.Set("Watcher", Watcher::Init(env));
  exports.Set("ringBell", Napi::Function::New<RingBellJs>(env));
  exports.Set("hintBell", Napi::Function::New<HintBellJs>(env));
  exports.Set("setCopyStrategy", Napi::Function::New<SetStrategy>(env));
  exports.Set("getCopyStrategy", Napi::Function::New<GetStrategy>(env));
  exports.Set("memcpyBaseline", Napi::Function::New<MemcpyBaseline>(env));
  exports.Set("sdlWindowGrab", Napi::Function::New<SdlWindowGrab>(env));
  exports.Set("sdlTakeError", Napi::Function::New<SdlTakeError>(env));
  exports.Set("sdlStartVideo", Napi::Function::New<SdlStartVideo>(env));
  exports.Set("Presenter", Presenter::Init(env));
  exports.Set("sdlRelativeMouse", Napi::Function::New<SdlRelativeMouse>(env));
  exports.Set("sdlTakeMotion", Napi::Function::New<SdlTakeMotion>(env));
  exports.Set("sdlLockState", Napi::Function::New<SdlLockState>(env));
  exports.Set("sdlEventFd", Napi::Function::New<SdlEventFd>(env));
  exports.Set("FdWatch", FdWatch::Init(env));
  exports.Set("cpuHasAvx2", Napi::Boolean::New(env, CpuHasAvx2()));
  exports.Set("kvmApiVersion", Napi::Function::New<KvmApiVersion>(env));
  exports.Set("guardFaultCount", Napi::Function::New<FaultCount>(env));
  // At this environment's teardown: stop its watcher threads first (they may be polling a
  // mapping), then unmap its regions still open. Async copies hold the mapping and unmap it when
  // they end. Other environments (the main thread, other workers) keep theirs.
  env.AddCleanupHook([state] {
    StopWatchersAtTeardown(*state);
    CloseRegionsAtTeardown(*state);
  });
  return exports;
}

}  // namespace

NODE_API_MODULE(glasspane, Init)
