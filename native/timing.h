// Clock, short sleeps, a CPU pause hint and futex calls shared by the copy loop and the watcher.
// Nothing here is x86-only: the pause hint has a scalar fallback on other CPUs.
#pragma once
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>

namespace glasspane {

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// 1 us timer slack for the calling thread (set once per thread): the default 50 us slack would
// stretch a 5 us backoff sleep to 55 us. Applies to nanosleep and to futex timeouts alike.
inline void FineTimerSlack() {
  static thread_local bool slackSet = false;
  if (!slackSet) {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    slackSet = true;
  }
}

// Sleeps `us` microseconds with 1 us timer slack on the calling thread.
inline void SleepMicros(uint32_t us) {
  FineTimerSlack();
  struct timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>((us % 1000000) * 1000)};
  nanosleep(&ts, nullptr);
}

// Tells the CPU we are spinning (x86 PAUSE, Arm YIELD); a compiler barrier elsewhere.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  asm volatile("yield" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

// Blocks while the u32 at `word` equals `expected`, at most `timeoutNs` (< 0: no limit). Returns
// at once when the value differs; may return spuriously. `shared`: the word is in memory other
// processes map (a region), so the kernel keys the wait on the page, not on this process.
inline void FutexWait(const void* word, uint32_t expected, int64_t timeoutNs, bool shared = false) {
  FineTimerSlack();
  struct timespec ts{};
  if (timeoutNs >= 0) {
    ts.tv_sec = static_cast<time_t>(timeoutNs / 1000000000);
    ts.tv_nsec = static_cast<long>(timeoutNs % 1000000000);
  }
  syscall(SYS_futex, word, shared ? FUTEX_WAIT : FUTEX_WAIT_PRIVATE, expected, timeoutNs >= 0 ? &ts : nullptr, nullptr, 0);
}

// Wakes every thread blocked in FutexWait on `word`.
inline void FutexWakeAll(const void* word, bool shared = false) {
  syscall(SYS_futex, word, shared ? FUTEX_WAKE : FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace glasspane
