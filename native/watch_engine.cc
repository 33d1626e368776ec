#include "watch_engine.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

#include "timing.h"

namespace glasspane {

namespace {

uint32_t Load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void Bump(uint32_t* p) { __atomic_fetch_add(p, 1u, __ATOMIC_ACQ_REL); }
uint32_t* Word(int32_t* bell, int i) { return reinterpret_cast<uint32_t*>(bell + i); }

}  // namespace

void RingBell(int32_t* bell) {
  Bump(Word(bell, kBellMail));
  Bump(Word(bell, kBellWake));
  FutexWakeAll(Word(bell, kBellWake));
}

void HintBell(int32_t* bell) {
  Bump(Word(bell, kBellHint));
  FutexWakeAll(Word(bell, kBellHint));
  Bump(Word(bell, kBellWake));
  FutexWakeAll(Word(bell, kBellWake));
}

WatchEngine::WatchEngine(MappingRef mapping, const PollPolicy& policy, int32_t* bell, AsyncSink sink)
    : mapping_(std::move(mapping)), policy_(policy), bell_(bell), sink_(std::move(sink)) {
  lastChangeNs_ = NowNs();
  thread_ = std::thread([this] { Run(); });
}

WatchEngine::~WatchEngine() { Stop(); }

uint32_t* WatchEngine::SleepWord() { return bell_ ? Word(bell_, kBellHint) : &ownSleep_; }
uint32_t* WatchEngine::WakeWord() { return bell_ ? Word(bell_, kBellWake) : &ownWake_; }

// Ends a nap of the engine thread and of a caller polling itself.
void WatchEngine::Nudge() {
  Bump(SleepWord());
  FutexWakeAll(SleepWord());
  Bump(WakeWord());
  FutexWakeAll(WakeWord());
}

void WatchEngine::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  Nudge();
  if (thread_.joinable()) thread_.join();
}

void WatchEngine::ArmAsync(const WatchArm& arm) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    next_ = {arm, gen_.fetch_add(1) + 1, false};
    armed_ = true;
  }
  cv_.notify_one();
}

void WatchEngine::Cancel() {
  cancel_ = true;
  Nudge();
}

void WatchEngine::Hint() { Nudge(); }

WatchResult WatchEngine::WaitSync(const WatchArm& arm, int64_t mailSeen) {
  uint32_t* mail = bell_ && mailSeen >= 0 ? Word(bell_, kBellMail) : nullptr;
  if (mail && Load(mail) != static_cast<uint32_t>(mailSeen)) return {kWatchBell, 0};
  if (stop_) return {kWatchClosed, 0};
  if (policy_.pollOnCaller) {
    WatchResult r{kWatchClosed, 0};
    if (mapping_->Acquire()) {
      r = Poll(Armed{arm, gen_.load(), true}, PollSite{WakeWord(), mail, static_cast<uint32_t>(mailSeen), true});
      mapping_->Release();
    }
    Learn(r);
    return r;
  }
  uint64_t gen;
  {
    std::lock_guard<std::mutex> lk(mu_);
    gen = gen_.fetch_add(1) + 1;
    next_ = {arm, gen, true};
    armed_ = true;
  }
  cv_.notify_one();
  // The engine answers within its own timeout; this deadline only guards against a lost wake.
  const int64_t deadline = NowNs() + static_cast<int64_t>(arm.timeoutMs) * 1000000 + 200000000;
  uint32_t* word = WakeWord();
  for (;;) {
    const uint32_t seen = Load(word);
    {
      std::lock_guard<std::mutex> lk(resMu_);
      if (resGen_ == gen) return res_;
    }
    int index = 0;
    if (mail && Load(mail) != static_cast<uint32_t>(mailSeen)) index = kWatchBell;
    else if (stop_) index = kWatchClosed;
    else if (NowNs() >= deadline) index = kWatchTimeout;
    if (index != 0) {
      gen_.fetch_add(1);  // supersedes the poll: the engine drops it and goes back to waiting for an arm
      Nudge();
      return {index, 0};
    }
    FutexWait(word, seen, deadline - NowNs());
  }
}

void WatchEngine::Run() {
  if (policy_.realtime) {
    // Allowed for root or with CAP_SYS_NICE / an RLIMIT_RTPRIO; otherwise silently stays normal.
    sched_param sp{};
    sp.sched_priority = 1;
    pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
  }
  FineTimerSlack();
  for (;;) {
    Armed a;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [this] { return stop_.load() || armed_; });
      if (stop_) return;
      a = next_;
      armed_ = false;
    }
    WatchResult r{kWatchClosed, 0};
    if (!stop_ && mapping_->Acquire()) {
      r = Poll(a, PollSite{SleepWord(), nullptr, 0, false});
      mapping_->Release();
    }
    Learn(r);
    if (!a.sync) {
      sink_(r);
    } else if (gen_.load() == a.gen) {
      {
        std::lock_guard<std::mutex> lk(resMu_);
        resGen_ = a.gen;
        res_ = r;
      }
      Bump(WakeWord());
      FutexWakeAll(WakeWord());
    }
    if (stop_) return;
  }
}

WatchResult WatchEngine::Poll(const Armed& armed, const PollSite& site) {
  const WatchArm& a = armed.arm;
  const uint8_t* base = mapping_->base;
  auto check = [&](WatchResult& r) {
    for (int i = 0; i < a.count; ++i) {
      uint32_t v = __atomic_load_n(reinterpret_cast<const uint32_t*>(base + a.offset[i]), __ATOMIC_ACQUIRE);
      if (v != a.expected[i]) {
        r = {i, v};
        return true;
      }
    }
    return false;
  };
  // Why the poll must end early: the engine stops, the wait was cancelled, or a newer arm
  // superseded it (its waiter went away). A cancel is consumed by the wait it ends.
  auto ended = [&](WatchResult& r) {
    if (stop_) r = {kWatchClosed, 0};
    else if (!site.onCaller && gen_.load() != armed.gen) r = {kWatchCancelled, 0};
    else if (cancel_.exchange(false)) r = {kWatchCancelled, 0};
    else if (site.mail && Load(site.mail) != site.mailSeen) r = {kWatchBell, 0};
    else return false;
    return true;
  };
  WatchResult r{kWatchTimeout, 0};
  const int64_t start = NowNs();
  const int64_t deadline = start + static_cast<int64_t>(a.timeoutMs) * 1000000;
  const int64_t spinEnd = start + static_cast<int64_t>(policy_.spinUs) * 1000;
  while (NowNs() < spinEnd) {
    if (check(r) || ended(r)) return r;
    for (int i = 0; i < 16; ++i) CpuRelax();
  }
  uint32_t* sleepWord = site.napWord;
  uint32_t nudges = Load(sleepWord);
  uint32_t sleepUs = policy_.minSleepUs;
  int64_t spinUntilNs = 0;  // end of the spin window before an expected change (0: not started)
  for (;;) {
    const uint32_t seen = Load(sleepWord);
    if (seen != nudges) {
      // Hinted (or nudged by a stop, cancel or new arm, which `ended` sees next): poll fast.
      nudges = seen;
      lastChangeNs_ = NowNs();
      sleepUs = policy_.minSleepUs;
    }
    if (check(r) || ended(r)) return r;
    const int64_t now = NowNs();
    if (now >= deadline) return {kWatchTimeout, 0};
    const int64_t leftUs = (deadline - now) / 1000 + 1;
    auto nap = [&](int64_t us) { FutexWait(sleepWord, seen, std::max<int64_t>(1, std::min(us, leftUs)) * 1000); };
    // A steady producer: sleep coarsely until shortly before word 0 is due to change, then nap
    // finely (or spin, with spinBeforeExpected: a spinner sees the post within a microsecond
    // while it has a CPU). The spin lasts at most two guard windows — a late producer gets fine
    // naps — so it costs about guard / period of a core while frames flow, and nothing at idle.
    const int64_t since = now - lastWord0Ns_;
    if (periodNs_ > 0 && since < periodNs_ * 2) {
      const int64_t guard = std::max<int64_t>(150000, periodNs_ / 16);
      const int64_t untilFine = periodNs_ - guard - since;
      if (untilFine > 0) {
        nap(std::max<int64_t>(std::min<int64_t>(untilFine / 1000, policy_.coarseSleepUs), policy_.fineSleepUs));
        continue;
      }
      if (spinUntilNs == 0) spinUntilNs = now + 2 * guard;
      if (policy_.spinBeforeExpected && now < spinUntilNs) {
        for (int i = 0; i < 64; ++i) CpuRelax();
        continue;
      }
      nap(policy_.fineSleepUs);
      continue;
    }
    const int64_t quiet = now - lastChangeNs_;
    uint32_t cap = policy_.maxSleepUs;
    if (quiet > static_cast<int64_t>(policy_.deepIdleAfterMs) * 1000000) cap = std::max(cap, policy_.deepIdleSleepUs);
    else if (quiet > static_cast<int64_t>(policy_.idleAfterMs) * 1000000) cap = std::max(cap, policy_.idleSleepUs);
    nap(sleepUs);
    sleepUs = std::min(sleepUs * 2, cap);
    if (sleepUs < cap && quiet > static_cast<int64_t>(policy_.idleAfterMs) * 1000000) sleepUs = cap;
  }
}

// After a wait: remember when something last changed, and learn the producer's period from word 0
// (exponential average; gaps over 1 s reset it).
void WatchEngine::Learn(const WatchResult& r) {
  if (r.index < 0) return;
  const int64_t now = NowNs();
  lastChangeNs_ = now;
  if (r.index != 0) return;
  const int64_t last = lastWord0Ns_;
  lastWord0Ns_ = now;
  const int64_t interval = now - last;
  if (last != 0 && interval > 0 && interval < 1000000000) {
    periodNs_ = periodNs_ == 0 ? interval : (periodNs_ * 7 + interval) / 8;
  } else {
    periodNs_ = 0;
  }
}

}  // namespace glasspane
