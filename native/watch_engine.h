// WatchEngine: one thread that polls up to four u32 words of a mapping until one differs from an
// expected value (e.g. an LGMP queue's `position`), and hands the result to whoever waits:
//  - ArmAsync: the result goes to a callback run on the engine thread (the Watcher turns it into
//    a JS callback through a thread-safe function);
//  - WaitSync: the calling thread blocks on a futex until the engine publishes the result, the
//    host rings the bell (a message for the calling thread), or the wait times out. No slices,
//    no spinning in the caller: it sleeps in the kernel until there is something to do.
//
// Why a thread polls at all: a guest writing into IVSHMEM cannot signal the host (B7 uses
// ivshmem-plain: no doorbell), so someone must look. The engine looks as cheaply as it can:
//  - a steady producer (frames at a fixed rate): it learns the interval between changes of word 0
//    and sleeps in steps of at most `coarseSleepUs` until shortly before the next change is due,
//    then polls every `fineSleepUs` (or spins, with spinBeforeExpected) until it comes;
//  - otherwise a doubling backoff from `minSleepUs` to `maxSleepUs`; `idleAfterMs` without a
//    change raises the cap to `idleSleepUs`, `deepIdleAfterMs` to `deepIdleSleepUs`. Each wake of
//    a sleeping thread costs ~25-40 us of CPU on a VM, so the deep-idle step is what keeps an idle
//    viewer near zero; the price is that the first change after a long idle is seen up to
//    `deepIdleSleepUs` late (docs/bench.md measures both). Hint() (the host expects a change, e.g.
//    the user just sent input to the guest) ends a backoff at once.
// Sleeps are futex waits on a word of the engine's (the bell's hint word when there is a bell),
// so Stop(), Cancel(), Hint() and a superseding arm end them at once. 1 us timer slack.
//
// Nothing here knows N-API: native/watcher.cc wraps it for JS, test/native/stress.cc drives it
// from threads and processes directly.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "mapping.h"

namespace glasspane {

constexpr int kWatchMaxWords = 4;
// Result indexes other than a word's index.
constexpr int kWatchTimeout = -1;
constexpr int kWatchCancelled = -2;
constexpr int kWatchClosed = -3;
constexpr int kWatchBell = -4;  // WaitSync only: the host rang the bell (a message is waiting)

// A bell: four int32 words in memory the threads of one process share (a SharedArrayBuffer).
constexpr int kBellWake = 0;  // futex word WaitSync sleeps on; bumped by every reason to wake it
constexpr int kBellMail = 1;  // bumped by RingBell: the host posted a message to the waiting thread
constexpr int kBellHint = 2;  // futex word the engine sleeps on; bumped by HintBell
constexpr int kBellWords = 4;

// Host side of a bell (any thread): a message is waiting / a change is likely soon (this one also
// ends a nap of a caller polling itself).
void RingBell(int32_t* bell);
void HintBell(int32_t* bell);

struct PollPolicy {
  uint32_t spinUs = 0;  // spin this long at the start of every wait (0: never)
  uint32_t minSleepUs = 5;
  uint32_t maxSleepUs = 100;
  uint32_t idleSleepUs = 1000;
  uint32_t idleAfterMs = 500;
  uint32_t deepIdleSleepUs = 16000;
  uint32_t deepIdleAfterMs = 3000;
  uint32_t fineSleepUs = 10;
  uint32_t coarseSleepUs = 500;
  // Spin (not nap) near an expected change. Off by default: on a shared VM it was measured no
  // quicker (a spinner is preempted as often as a napper is late) and cost ~3 % more of a core at
  // 144 fps, taken from the thread that presents.
  bool spinBeforeExpected = false;
  bool realtime = false;  // ask for SCHED_FIFO 1 (only when the process may); opt-in
  // WaitSync polls on the calling thread (its naps are futex waits on the bell, so a ring still
  // ends them at once) instead of handing the poll to the engine thread and sleeping until it
  // answers: no thread hand-off between the change and the caller.
  bool pollOnCaller = true;
};

struct WatchArm {
  int count = 0;
  size_t offset[kWatchMaxWords] = {};
  uint32_t expected[kWatchMaxWords] = {};
  uint32_t timeoutMs = 0;
};

struct WatchResult {
  int index;  // which word changed, or kWatch*
  uint32_t value;
};

class WatchEngine {
 public:
  using AsyncSink = std::function<void(WatchResult)>;
  // `bell` (nullable) must outlive the engine; `sink` runs on the engine thread.
  WatchEngine(MappingRef mapping, const PollPolicy& policy, int32_t* bell, AsyncSink sink);
  ~WatchEngine();
  WatchEngine(const WatchEngine&) = delete;
  WatchEngine& operator=(const WatchEngine&) = delete;

  // Joins the thread; safe twice. A pending async wait ends with kWatchClosed through the sink.
  void Stop();
  // One wait at a time (async or sync; the caller keeps to that). Offsets are checked by the caller.
  void ArmAsync(const WatchArm& arm);
  // Blocks the calling thread. `mailSeen` >= 0 with a bell: return kWatchBell as soon as the
  // bell's mail count differs from it (also before waiting at all).
  WatchResult WaitSync(const WatchArm& arm, int64_t mailSeen);
  // Ends the outstanding wait with kWatchCancelled; with none outstanding, the next one (a cancel
  // is never lost to a race with the arm).
  void Cancel();
  // Polls fast again, as after a change (the host expects one soon).
  void Hint();

 private:
  struct Armed {
    WatchArm arm;
    uint64_t gen;
    bool sync;
  };
  // Where a poll naps and what else ends it: the engine thread's naps end on Nudge(); a caller
  // polling itself naps on the bell's wake word and ends on a ring (mail != mailSeen).
  struct PollSite {
    uint32_t* napWord;
    const uint32_t* mail;  // null: no bell to watch
    uint32_t mailSeen;
    bool onCaller;
  };
  void Run();
  WatchResult Poll(const Armed& a, const PollSite& site);
  void Learn(const WatchResult& r);
  void Nudge();  // ends a nap of the engine thread and of a caller polling itself
  uint32_t* SleepWord();
  uint32_t* WakeWord();

  MappingRef mapping_;
  PollPolicy policy_;
  int32_t* bell_;
  AsyncSink sink_;
  // Futex words when there is no bell (used with __atomic builtins, as the bell's are).
  uint32_t ownSleep_ = 0;
  uint32_t ownWake_ = 0;

  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  Armed next_{};
  std::atomic<bool> stop_{false};
  std::atomic<bool> cancel_{false};
  std::atomic<uint64_t> gen_{0};
  bool stopped_ = false;

  // Engine thread only.
  int64_t lastChangeNs_ = 0;
  int64_t periodNs_ = 0;    // learned interval between changes of word 0 (0: unknown)
  int64_t lastWord0Ns_ = 0;

  // The last sync result, for the waiting thread.
  std::mutex resMu_;
  uint64_t resGen_ = 0;
  WatchResult res_{kWatchTimeout, 0};
};

}  // namespace glasspane
