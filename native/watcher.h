// Watcher: the JS face of a WatchEngine (watch_engine.h) — a native thread that waits until one of
// up to four u32 words in a region differs from an expected value (e.g. an LGMP queue's
// `position`). wait() wakes JS through a thread-safe function (the event loop never blocks and is
// never polled); waitSync() blocks the calling thread in the kernel (a futex) until the engine
// says a word changed, the host rang the watcher's bell (a SharedArrayBuffer word another thread
// rings with ringBell()), or the timeout passed. The polling policy is the engine's.
#pragma once
#include <napi.h>

#include <memory>

#include "addon_state.h"
#include "mapping.h"
#include "watch_engine.h"

namespace glasspane {

class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Watcher(const Napi::CallbackInfo& info);
  ~Watcher() override;
  void Stop();  // joins the thread; safe twice; used by close() and at environment teardown

 private:
  // The thread-safe function's context. It outlives the Watcher (the tsfn's finalizer deletes
  // it), so a result still queued when the Watcher is collected finds `owner` null instead of
  // freed memory.
  struct Link {
    Watcher* owner;
  };

  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value WaitSync(const Napi::CallbackInfo& info);
  WatchArm ParseArm(Napi::Env env, const Napi::Value& words, const Napi::Value& timeout);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Hint(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetBusy(const Napi::CallbackInfo& info);
  static void Deliver(Napi::Env env, Napi::Function, Link* link, WatchResult* r);

  AddonState* state_;
  MappingRef mapping_;
  Napi::ObjectReference bellRef_;  // keeps the bell's SharedArrayBuffer alive for the engine
  std::unique_ptr<WatchEngine> engine_;
  Link* link_ = nullptr;

  using Tsfn = Napi::TypedThreadSafeFunction<Link, WatchResult, &Watcher::Deliver>;
  Tsfn tsfn_;
  Napi::FunctionReference callback_;
  bool busy_ = false;  // a wait() is outstanding (its callback has not run yet)
  bool stopped_ = false;
};

// Stops every watcher the environment still runs (its teardown).
void StopWatchersAtTeardown(AddonState& state);

// ringBell(bell: Int32Array over a SharedArrayBuffer, at least 4 words): a message is waiting for
// the thread blocked in waitSync on a watcher with this bell. hintBell(bell): a change is likely
// soon, poll fast. Callable from any thread of the process.
Napi::Value RingBellJs(const Napi::CallbackInfo& info);
Napi::Value HintBellJs(const Napi::CallbackInfo& info);

}  // namespace glasspane
