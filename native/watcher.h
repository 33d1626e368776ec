// Watcher: a native thread that waits until one of up to four u32 words in a region differs from
// an expected value (e.g. an LGMP queue's `position`), then wakes JS through a thread-safe
// function. JS never polls and the event loop never blocks. Strategy: spin for `spinUs`, then
// sleep with a doubling backoff from `minSleepUs` to `maxSleepUs`; after `idleAfterMs` without any
// change the cap rises to `idleSleepUs` so an idle consumer costs almost no CPU.
// Periodic producers (frames at a steady rate): the thread learns the interval between changes of
// word 0 and, until shortly before the next one is due, sleeps in steps of at most `coarseSleepUs`;
// close to it, it spins (with `spinBeforeExpected`, the default) or polls every `fineSleepUs`.
// Sleeps use 1 us timer slack (not the default 50 us), and with `realtime` the thread asks for
// SCHED_FIFO priority 1 when the process may.
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "addon_state.h"
#include "mapping.h"

namespace glasspane {

class Watcher : public Napi::ObjectWrap<Watcher> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Watcher(const Napi::CallbackInfo& info);
  ~Watcher() override;
  void Stop();  // joins the thread; safe twice; used by close() and at environment teardown

 private:
  static constexpr int kMaxWords = 4;
  struct Arm {
    int count = 0;
    size_t offset[kMaxWords];
    uint32_t expected[kMaxWords];
    uint32_t timeoutMs = 0;
  };
  struct Result {
    int index;  // which word changed; -1 timeout, -2 cancelled, -3 region closed
    uint32_t value;
  };

  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value WaitSync(const Napi::CallbackInfo& info);
  Arm ParseArm(Napi::Env env, const Napi::Value& words, const Napi::Value& timeout);
  void Learn(const Result& r);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetBusy(const Napi::CallbackInfo& info);
  void Run();
  Result Poll(const Arm& arm);
  static void Deliver(Napi::Env env, Napi::Function, Watcher* self, Result* r);

  AddonState* state_;
  MappingRef mapping_;
  uint32_t spinUs_ = 50, minSleepUs_ = 5, maxSleepUs_ = 100, idleSleepUs_ = 1000, idleAfterMs_ = 500;
  uint32_t fineSleepUs_ = 10, coarseSleepUs_ = 500;
  bool realtime_ = true;
  bool spinFine_ = true;  // spin (not sleep) in the window before a steady producer's next change
  // Learned interval between changes of word 0 (ns; 0 = unknown) and when word 0 last changed.
  std::atomic<int64_t> periodNs_{0};
  std::atomic<int64_t> lastWord0Ns_{0};

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  bool stop_ = false;
  bool busy_ = false;  // JS side: a wait is outstanding (its callback has not run yet)
  Arm arm_;
  std::atomic<bool> cancel_{false};
  std::atomic<int64_t> lastChangeNs_{0};

  using Tsfn = Napi::TypedThreadSafeFunction<Watcher, Result, &Watcher::Deliver>;
  Tsfn tsfn_;
  Napi::FunctionReference callback_;
  bool stopped_ = false;
};

// Stops every watcher the environment still runs (its teardown).
void StopWatchersAtTeardown(AddonState& state);

}  // namespace glasspane
