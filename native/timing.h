// Clock and short sleeps shared by the copy loop and the watcher thread.
#pragma once
#include <sys/prctl.h>
#include <time.h>

#include <chrono>
#include <cstdint>

namespace glasspane {

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Sleeps `us` microseconds with 1 us timer slack on the calling thread (set once per thread): the
// default 50 us slack would stretch a 5 us backoff sleep to 55 us.
inline void SleepMicros(uint32_t us) {
  static thread_local bool slackSet = false;
  if (!slackSet) {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    slackSet = true;
  }
  struct timespec ts{static_cast<time_t>(us / 1000000), static_cast<long>((us % 1000000) * 1000)};
  nanosleep(&ts, nullptr);
}

}  // namespace glasspane
