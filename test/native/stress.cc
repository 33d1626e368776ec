// The addon's thread and memory parts under threads and processes at once, without Node: the
// watch engine (several engines on one mapping, a writer thread, bells rung and cancels sent from
// other threads, stops in the middle of waits), wp-following copies (a producer process writing
// frames, consumer threads copying behind it and checking every byte), and the fault guard (threads
// reading a file while it is truncated under them; the signal actions before ours honoured; a real
// fault outside any mapping still ending the process). LGMP proves its queues the same way: many
// rounds, every invariant checked, any failure fatal.
//
// Built and run by test/native/native-stress.test.ts (plain) and `npm run test:native-sanitize`
// (AddressSanitizer + UndefinedBehaviorSanitizer): tools/native-builds.mjs.
//   stress [--scenario NAME] [--rounds N]      exit 0: every check held; 1: a check failed
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../native/fast_copy.h"
#include "../../native/fault_guard.h"
#include "../../native/mapping.h"
#include "../../native/timing.h"
#include "../../native/watch_engine.h"

using namespace glasspane;

namespace {

int g_failures = 0;
int g_rounds = 1;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      std::fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                   \
      std::fprintf(stderr, "\n");                          \
      ++g_failures;                                        \
    }                                                      \
  } while (0)

std::string ShmPath(const char* tag) { return "/dev/shm/glasspane-stress-" + std::to_string(getpid()) + "-" + tag; }

MappingRef Open(const std::string& path, size_t size) {
  OpenOptions o;
  o.create = true;
  o.size = size;
  return OpenMapping(path, o);
}

uint32_t* Word(const MappingRef& m, size_t off) { return reinterpret_cast<uint32_t*>(m->base + off); }

// Runs `body` in a child process; returns its wait status.
int InChild(const std::function<void()>& body) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    body();
    std::fflush(nullptr);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// ---- watch engine ------------------------------------------------------------------------

// Engines on one mapping, each waited on by its own thread (WaitSync with a bell), a writer
// thread bumping the words, another thread ringing the bells, cancelling and hinting at random.
// Every result must be a word that really differs from what the waiter expected, a bell it
// really got, a cancel that was really sent, or a timeout; no waiter may hang.
void WatchEngines() {
  const std::string path = ShmPath("watch");
  MappingRef m = Open(path, 4096);
  constexpr int kEngines = 4;
  constexpr int kWaits = 400;
  std::atomic<bool> done{false};
  std::vector<std::array<int32_t, kBellWords>> bells(kEngines);
  for (auto& b : bells) b.fill(0);
  std::vector<std::unique_ptr<WatchEngine>> engines;
  PollPolicy policy;
  policy.deepIdleAfterMs = 50;  // exercise every step of the backoff
  policy.idleAfterMs = 5;
  for (int i = 0; i < kEngines; ++i) {
    PollPolicy p = policy;
    p.pollOnCaller = i % 2 == 0;  // both ways of waiting: polling on the caller, or handed to the engine
    engines.push_back(std::make_unique<WatchEngine>(m, p, bells[i].data(), [](WatchResult) {}));
  }
  std::atomic<int> cancelsSent[kEngines] = {};
  std::thread writer([&] {
    std::mt19937 rng(1);
    while (!done) {
      __atomic_fetch_add(Word(m, 4 * (rng() % 8)), 1u, __ATOMIC_RELEASE);
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
    }
  });
  std::thread ringer([&] {
    std::mt19937 rng(2);
    while (!done) {
      int i = static_cast<int>(rng() % kEngines);
      switch (rng() % 3) {
        case 0: RingBell(bells[i].data()); break;
        case 1: HintBell(bells[i].data()); break;
        case 2:
          cancelsSent[i]++;
          engines[i]->Cancel();
          break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 800));
    }
  });
  std::vector<std::thread> waiters;
  std::atomic<int> results[5] = {};  // changed, bell, cancelled, timeout, other
  for (int i = 0; i < kEngines; ++i) {
    waiters.emplace_back([&, i] {
      uint32_t mailSeen = __atomic_load_n(reinterpret_cast<uint32_t*>(&bells[i][kBellMail]), __ATOMIC_ACQUIRE);
      int cancels = 0;
      for (int n = 0; n < kWaits; ++n) {
        WatchArm a;
        a.count = 2;
        a.offset[0] = 4 * (i % 8);
        a.offset[1] = 4 * ((i + 3) % 8);
        a.expected[0] = __atomic_load_n(Word(m, a.offset[0]), __ATOMIC_ACQUIRE);
        a.expected[1] = __atomic_load_n(Word(m, a.offset[1]), __ATOMIC_ACQUIRE);
        a.timeoutMs = 1 + n % 7;
        WatchResult r = engines[i]->WaitSync(a, mailSeen);
        if (r.index >= 0) {
          CHECK(r.index < a.count, "index %d", r.index);
          CHECK(r.value != a.expected[r.index], "word %d reported changed but still %u", r.index, r.value);
          results[0]++;
        } else if (r.index == kWatchBell) {
          uint32_t now = __atomic_load_n(reinterpret_cast<uint32_t*>(&bells[i][kBellMail]), __ATOMIC_ACQUIRE);
          CHECK(now != mailSeen, "a bell result with no ring");
          mailSeen = now;
          results[1]++;
        } else if (r.index == kWatchCancelled) {
          ++cancels;
          CHECK(cancels <= cancelsSent[i].load(), "%d cancels seen, %d sent", cancels, cancelsSent[i].load());
          results[2]++;
        } else if (r.index == kWatchTimeout) {
          results[3]++;
        } else {
          results[4]++;
        }
      }
    });
  }
  for (auto& t : waiters) t.join();
  done = true;
  writer.join();
  ringer.join();
  CHECK(results[4] == 0, "%d unexpected results", results[4].load());
  CHECK(results[0] > 0 && results[1] > 0 && results[3] > 0, "changed %d, bell %d, timeout %d", results[0].load(), results[1].load(), results[3].load());
  // A stop while another thread waits ends that wait with kWatchClosed.
  std::thread late([&] {
    WatchArm a;
    a.count = 1;
    a.offset[0] = 1024;
    a.expected[0] = __atomic_load_n(Word(m, 1024), __ATOMIC_ACQUIRE);
    a.timeoutMs = 60000;
    WatchResult r = engines[0]->WaitSync(a, -1);
    CHECK(r.index == kWatchClosed || r.index == kWatchCancelled, "a stopped engine answered %d", r.index);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  engines[0]->Stop();
  late.join();
  // Async waits: results through the sink, a cancel before the arm is not lost.
  std::atomic<int> got{-100};
  WatchEngine async(m, policy, nullptr, [&](WatchResult r) { got = r.index; });
  async.Cancel();
  WatchArm a;
  a.count = 1;
  a.offset[0] = 2048;
  a.timeoutMs = 60000;
  a.expected[0] = __atomic_load_n(Word(m, 2048), __ATOMIC_ACQUIRE);
  async.ArmAsync(a);
  for (int i = 0; i < 2000 && got == -100; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(got == kWatchCancelled, "a cancel before the arm gave %d", got.load());
  engines.clear();
  m->Close();
  unlink(path.c_str());
}

// ---- copies ------------------------------------------------------------------------------

// A producer process writes frames (every byte of frame k is k) with the write pointer advancing
// every 64 KiB; consumer threads in this process copy each frame behind it and check every byte.
void CopiesAcrossProcesses() {
  const std::string path = ShmPath("copy");
  constexpr size_t kFrame = 1 << 20;
  constexpr int kFrames = 60;
  MappingRef m = Open(path, 64 + kFrame);
  uint32_t* serial = Word(m, 0);
  uint32_t* wp = Word(m, 8);
  uint32_t* acks = Word(m, 16);
  constexpr int kConsumers = 3;
  pid_t producer = fork();
  if (producer == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the harness (it waits for its acks)
    MappingRef mine = OpenMapping(path, OpenOptions{});
    std::vector<uint8_t> src(kFrame);
    for (uint32_t k = 1; k <= kFrames; ++k) {
      // Wait until every consumer has copied the previous frame.
      while (__atomic_load_n(reinterpret_cast<uint32_t*>(mine->base + 16), __ATOMIC_ACQUIRE) < (k - 1) * kConsumers) CpuRelax();
      std::memset(src.data(), static_cast<int>(k & 0xff), kFrame);
      __atomic_store_n(reinterpret_cast<uint32_t*>(mine->base + 8), 0u, __ATOMIC_RELEASE);
      __atomic_store_n(reinterpret_cast<uint32_t*>(mine->base + 0), k, __ATOMIC_RELEASE);
      WriteAdvancingWp(mine->base + 64, src.data(), kFrame, reinterpret_cast<uint32_t*>(mine->base + 8), 64 << 10);
    }
    _exit(0);
  }
  std::vector<std::thread> consumers;
  std::atomic<int> bad{0};
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      std::vector<uint8_t> dst(kFrame);
      for (uint32_t k = 1; k <= kFrames; ++k) {
        while (__atomic_load_n(serial, __ATOMIC_ACQUIRE) != k) CpuRelax();
        size_t n = CopyFollowingWp(dst.data(), m->base + 64, kFrame, wp, 5000, CopyAbort{serial, k});
        if (n != kFrame) bad++;
        for (size_t i = 0; i < kFrame; i += 4093)
          if (dst[i] != static_cast<uint8_t>(k & 0xff)) {
            bad++;
            break;
          }
        __atomic_fetch_add(acks, 1u, __ATOMIC_ACQ_REL);
      }
    });
  }
  for (auto& t : consumers) t.join();
  int status = 0;
  waitpid(producer, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "producer status %d", status);
  CHECK(bad == 0, "%d frames copied wrong", bad.load());
  // A write pointer that stops: the copy gives up after its timeout with what it had.
  __atomic_store_n(wp, 4096u, __ATOMIC_RELEASE);
  std::vector<uint8_t> dst(kFrame);
  size_t n = CopyFollowingWp(dst.data(), m->base + 64, kFrame, wp, 20);
  CHECK(n == 4096, "a stalled copy returned %zu", n);
  m->Close();
  unlink(path.c_str());
}

// ---- fault guard -------------------------------------------------------------------------

// Threads read a guarded mapping while its file is truncated: nobody dies, the mapping is
// flagged broken, and the fault is counted once however many threads hit it. The readers spin on
// the same pages, so on a machine with several CPUs they fault at the same moment.
void FaultUnderThreads() {
  InstallFaultGuard();
  const int threads = std::max(4u, 2 * std::thread::hardware_concurrency());
  // Other guarded ranges first (addresses nothing touches): the handler looks through them before
  // it finds ours, which widens the window in which a second thread faults too.
  std::vector<int> others;
  for (int i = 0; i < 900; ++i) others.push_back(GuardRegister(reinterpret_cast<void*>(uintptr_t{0x10000} * (i + 1)), 4096));
  for (int round = 0; round < 10; ++round) {
    const std::string path = ShmPath("fault");
    constexpr size_t kSize = 1 << 20;
    MappingRef m = Open(path, kSize);
    std::memset(m->base, 7, kSize);
    const unsigned long before = GuardFaultCount();
    std::atomic<int> ready{0};
    std::atomic<bool> truncated{false};
    std::atomic<uint64_t> sum{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < threads; ++t) {
      readers.emplace_back([&, t] {
        ready++;
        uint64_t s = 0;
        std::vector<uint8_t> dst(1 << 16);
        // Reading before, during and after the truncation: many passes after it.
        for (int after = 0; after < 200;) {
          if (truncated) ++after;
          for (size_t off = 0; off < 16384; off += 4096) s += __atomic_load_n(m->base + off, __ATOMIC_RELAXED);
          if (after % 50 == 1) CopyFollowingWp(dst.data(), m->base + (t * 65536) % (kSize - 65536), 65536, nullptr, 0);
        }
        sum += s;
      });
    }
    while (ready < threads) CpuRelax();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    if (truncate(path.c_str(), 0) != 0) std::abort();
    truncated = true;
    for (auto& t : readers) t.join();
    CHECK(m->Broken(), "round %d: the truncated mapping is not flagged", round);
    CHECK(GuardFaultCount() - before == 1, "round %d: %lu faults counted for one mapping", round, GuardFaultCount() - before);
    m->Close();
    unlink(path.c_str());
  }
  for (int slot : others) GuardUnregister(slot);
  // Deterministically, what the race above does by chance: a second thread's fault in the same
  // mapping whose handler runs after the first one repaired it. The kernel lets a process queue
  // itself a fault-like SIGBUS (si_code BUS_ADRERR, si_addr inside the mapping).
  const std::string path = ShmPath("late");
  MappingRef m = Open(path, 65536);
  const unsigned long before = GuardFaultCount();
  auto fault = [&](size_t off) {
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    si.si_signo = SIGBUS;
    si.si_code = BUS_ADRERR;
    si.si_addr = m->base + off;
    syscall(SYS_rt_tgsigqueueinfo, getpid(), static_cast<pid_t>(syscall(SYS_gettid)), SIGBUS, &si);
  };
  std::thread a([&] { fault(0); });
  std::thread b([&] { fault(8192); });
  a.join();
  b.join();
  fault(4096);
  CHECK(m->Broken(), "the late faults did not flag the mapping");
  CHECK(GuardFaultCount() - before == 1, "%lu faults counted for three hits of one mapping", GuardFaultCount() - before);
  m->Close();
  unlink(path.c_str());
}

volatile sig_atomic_t g_handled = 0;
volatile sig_atomic_t g_maskHeld = 0;
void CountingHandler(int) {
  g_handled = g_handled + 1;
  sigset_t now;
  sigprocmask(SIG_BLOCK, nullptr, &now);
  g_maskHeld = sigismember(&now, SIGUSR2) && sigismember(&now, SIGBUS);
}

// A real fault outside every mapping we guard: a file we map ourselves, truncated, then touched.
void RealFaultOutsideMappings() {
  const std::string path = ShmPath("raw");
  int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
  if (ftruncate(fd, 65536) != 0) std::abort();
  auto* p = static_cast<volatile uint8_t*>(mmap(nullptr, 65536, PROT_READ, MAP_SHARED, fd, 0));
  close(fd);
  if (truncate(path.c_str(), 0) != 0) std::abort();
  unlink(path.c_str());
  (void)p[8192];  // SIGBUS
}

// The signal actions that were there before ours, and faults that are not ours.
void FaultGuardChaining() {
  // kill(SIGBUS) with SIG_IGN before us: ignored, as without us.
  int st = InChild([] {
    signal(SIGBUS, SIG_IGN);
    InstallFaultGuard();
    kill(getpid(), SIGBUS);
  });
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a kill(SIGBUS) with SIG_IGN before us ended the process (status %d)", st);
  // A handler with SA_RESETHAND runs once with its mask; the second signal gets the default.
  st = InChild([] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = CountingHandler;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGBUS, &sa, nullptr);
    InstallFaultGuard();
    kill(getpid(), SIGBUS);
    if (g_handled != 1) _exit(10);
    if (!g_maskHeld) _exit(11);
    kill(getpid(), SIGBUS);  // the default action now: the process ends with SIGBUS
    _exit(12);
  });
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "SA_RESETHAND / sa_mask not honoured (status %d, exit %d)", st, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  // A real fault outside any guarded mapping still ends the process with SIGBUS (default action).
  st = InChild([] {
    InstallFaultGuard();
    RealFaultOutsideMappings();
    _exit(20);
  });
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "a real fault outside our mappings was survived (status %d)", st);
  // The same with SIG_IGN before us: a real fault cannot be ignored; the process ends.
  st = InChild([] {
    signal(SIGBUS, SIG_IGN);
    InstallFaultGuard();
    RealFaultOutsideMappings();
    _exit(21);
  });
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS, "a real fault with SIG_IGN before us was survived (status %d)", st);
  // A handler before us sees a real fault outside our mappings (and may end the process itself).
  st = InChild([] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = [](int) { _exit(30); };
    sigaction(SIGBUS, &sa, nullptr);
    InstallFaultGuard();
    RealFaultOutsideMappings();
    _exit(31);
  });
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 30, "the handler before us did not get the fault (status %d)", st);
}

struct Scenario {
  const char* name;
  void (*run)();
};
// "chain" forks children that set a signal action and then install the guard: it must run before
// anything in this process installs it (installation happens once per process, and forks keep it).
const Scenario kScenarios[] = {
    {"chain", FaultGuardChaining},
    {"watch", WatchEngines},
    {"copy", CopiesAcrossProcesses},
    {"fault", FaultUnderThreads},
};

}  // namespace

int main(int argc, char** argv) {
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--scenario") == 0) only = argv[i + 1];
    else if (std::strcmp(argv[i], "--rounds") == 0) g_rounds = std::max(1, std::atoi(argv[i + 1]));
  }
  for (const Scenario& s : kScenarios) {
    if (!only.empty() && only != s.name) continue;
    for (int r = 0; r < g_rounds; ++r) {
      const int before = g_failures;
      const int64_t t0 = NowNs();
      s.run();
      std::printf("%s %s round %d (%.0f ms)\n", g_failures == before ? "ok  " : "FAIL", s.name, r + 1, (NowNs() - t0) / 1e6);
    }
  }
  std::printf("%d failure(s)\n", g_failures);
  return g_failures == 0 ? 0 : 1;
}
