#include "fault_guard.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace glasspane {

namespace {

// State of a slot: free, being filled in by GuardRegister, or live (the handler may use it).
enum : int { kFree = 0, kClaimed = 1, kLive = 2 };
// Repair of a live slot's mapping: one thread maps the zero pages, the others wait for it.
enum : int { kHealthy = 0, kRepairing = 1, kRepaired = 2, kRepairFailed = 3 };

struct Slot {
  std::atomic<int> state{kFree};
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> length{0};
  std::atomic<int> inHandler{0};  // handlers currently looking at this slot
  std::atomic<int> repair{kHealthy};
};

// Regions a process maps at once: a viewer maps one, tests a few dozen.
constexpr int kSlots = 1024;
Slot g_slots[kSlots];
std::atomic<unsigned long> g_faults{0};
struct sigaction g_previous;
// The previous action had SA_RESETHAND and has run once: from now on it is SIG_DFL, as the kernel
// would have made it.
std::atomic<bool> g_previousSpent{false};

// Ends the process the way the signal's default action does (core dump, exit 135): our handler
// steps aside and the signal is raised again.
[[noreturn]] void DieAsDefault(int sig) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, nullptr);
  sigset_t only;
  sigemptyset(&only);
  sigaddset(&only, sig);
  pthread_sigmask(SIG_UNBLOCK, &only, nullptr);
  raise(sig);
  _exit(128 + sig);  // not reached
}

// Hands the signal to whoever had it before us, honouring that action as the kernel would have:
// its mask (and the signal itself unless SA_NODEFER) blocked while it runs, SA_RESETHAND (it runs
// once, then the default applies), SIG_IGN (a kill(2) of SIGBUS is ignored; a real fault cannot
// be — the kernel kills a process that ignores or blocks a fault — so it dies), SIG_DFL.
void Chain(int sig, siginfo_t* info, void* ctx) {
  const struct sigaction& prev = g_previous;
  const bool sent = info == nullptr || info->si_code <= 0;  // kill(2), sigqueue(3), raise(3)
  const bool hasHandler = (prev.sa_flags & SA_SIGINFO) ? prev.sa_sigaction != nullptr
                                                       : prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN;
  if (!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_IGN) {
    if (sent) return;
    DieAsDefault(sig);
  }
  if (!hasHandler) DieAsDefault(sig);
  if ((prev.sa_flags & SA_RESETHAND) && g_previousSpent.exchange(true)) DieAsDefault(sig);
  sigset_t block = prev.sa_mask;
  if (!(prev.sa_flags & SA_NODEFER)) sigaddset(&block, sig);
  sigset_t old;
  pthread_sigmask(SIG_BLOCK, &block, &old);
  if (prev.sa_flags & SA_SIGINFO) prev.sa_sigaction(sig, info, ctx);
  else prev.sa_handler(sig);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void OnSigbus(int sig, siginfo_t* info, void* ctx) {
  // Only a fault the kernel raised has a meaningful address; kill(2)/sigqueue(3) ones go on.
  if (info == nullptr || info->si_code <= 0) {
    Chain(sig, info, ctx);
    return;
  }
  const uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Slot& s : g_slots) {
    s.inHandler.fetch_add(1);
    if (s.state.load() == kLive) {
      const uintptr_t base = s.base.load();
      const size_t len = s.length.load();
      if (addr >= base && addr - base < len) {
        int was = kHealthy;
        if (s.repair.compare_exchange_strong(was, kRepairing)) {
          // Zero pages over the whole mapping: every later access succeeds and reads 0.
          void* p = mmap(reinterpret_cast<void*>(base), len, PROT_READ | PROT_WRITE,
                         MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
          s.repair.store(p == MAP_FAILED ? kRepairFailed : kRepaired);
          s.inHandler.fetch_sub(1);
          if (p == MAP_FAILED) break;  // cannot repair: let it kill us rather than loop
          g_faults.fetch_add(1);       // one fault per mapping, however many threads hit it
          return;
        }
        s.inHandler.fetch_sub(1);
        if (was == kRepairFailed) break;
        // Another thread is mapping the zero pages (or has): run the access again. While the
        // repair is under way it faults again and comes back here.
        if (was == kRepairing) sched_yield();
        return;
      }
    }
    s.inHandler.fetch_sub(1);
  }
  Chain(sig, info, ctx);
}

}  // namespace

void InstallFaultGuard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous);
  });
}

int GuardRegister(void* base, size_t length) {
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (!g_slots[i].state.compare_exchange_strong(expected, kClaimed)) continue;
    g_slots[i].base.store(reinterpret_cast<uintptr_t>(base));
    g_slots[i].length.store(length);
    g_slots[i].repair.store(kHealthy);
    g_slots[i].state.store(kLive);
    return i;
  }
  return -1;
}

void GuardUnregister(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  Slot& s = g_slots[slot];
  s.state.store(kClaimed);
  // A handler that saw kLive before the store above may still be mapping zero pages here.
  while (s.inHandler.load() != 0) {
  }
  s.base.store(0);
  s.length.store(0);
  s.state.store(kFree);
}

bool GuardBroken(int slot) { return slot >= 0 && slot < kSlots && g_slots[slot].repair.load() == kRepaired; }

unsigned long GuardFaultCount() { return g_faults.load(); }

}  // namespace glasspane
