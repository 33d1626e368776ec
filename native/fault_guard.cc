#include "fault_guard.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace glasspane {

namespace {

// State of a slot: free, being filled in by GuardRegister, or live (the handler may use it).
enum : int { kFree = 0, kClaimed = 1, kLive = 2 };

struct Slot {
  std::atomic<int> state{kFree};
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> length{0};
  std::atomic<int> inHandler{0};  // handlers currently looking at this slot
  std::atomic<bool> broken{false};
};

// Regions a process maps at once: a viewer maps one, tests a few dozen.
constexpr int kSlots = 1024;
Slot g_slots[kSlots];
std::atomic<unsigned long> g_faults{0};
struct sigaction g_previous;

// Hands the signal to whoever had it before us; for the default action, restore it and raise the
// signal again, so the process ends exactly as it would have without us (core dump, exit 135).
void Chain(int sig, siginfo_t* info, void* ctx) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) {
      g_previous.sa_sigaction(sig, info, ctx);
      return;
    }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // SIG_DFL, or SIG_IGN (which would re-fault forever on a memory fault): die as without us.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, nullptr);
  raise(sig);
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
        // Zero pages over the whole mapping: every later access succeeds and reads 0.
        void* p = mmap(reinterpret_cast<void*>(base), len, PROT_READ | PROT_WRITE,
                       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        s.broken.store(true);
        s.inHandler.fetch_sub(1);
        if (p == MAP_FAILED) break;  // cannot repair: let it kill us rather than loop
        g_faults.fetch_add(1);
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
    g_slots[i].broken.store(false);
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

bool GuardBroken(int slot) { return slot >= 0 && slot < kSlots && g_slots[slot].broken.load(); }

unsigned long GuardFaultCount() { return g_faults.load(); }

}  // namespace glasspane
