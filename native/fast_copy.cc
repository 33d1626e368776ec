#include "fast_copy.h"

#if (defined(__x86_64__) || defined(__i386__)) && !defined(GLASSPANE_SCALAR_COPY)
#define GLASSPANE_X86 1
#include <immintrin.h>
#endif

#include <atomic>
#include <chrono>
#include <cstring>

#include "timing.h"

namespace glasspane {

namespace {

std::atomic<int> g_strategy{static_cast<int>(CopyStrategy::kAuto)};

// Measured (bench/copy.ts): glibc memcpy matches or beats AVX2 streaming stores while a frame fits
// the last-level cache (1080p, 1440p); streaming stores win slightly for 4K-sized copies, where a
// plain copy would evict everything else. "auto" streams only copies at least this large.
constexpr size_t kStreamThreshold = 24 * 1024 * 1024;

#ifdef GLASSPANE_X86
__attribute__((target("avx2"))) void CopyAvx2Stream(uint8_t* dst, const uint8_t* src, size_t n) {
  // Align the destination to 32 bytes so every store can be a streaming store.
  size_t head = (32 - (reinterpret_cast<uintptr_t>(dst) & 31)) & 31;
  if (head > n) head = n;
  std::memcpy(dst, src, head);
  dst += head;
  src += head;
  n -= head;
  size_t blocks = n / 128;
  for (size_t i = 0; i < blocks; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(src + 512), _MM_HINT_NTA);
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32));
    __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 64));
    __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst + 96), d);
    src += 128;
    dst += 128;
  }
  _mm_sfence();  // streaming stores are weakly ordered: make them visible before we return
  std::memcpy(dst, src, n % 128);
}
#else
// Other CPUs (aarch64, ...): no streaming variant; CpuHasAvx2() is false so this is never chosen.
void CopyAvx2Stream(uint8_t* dst, const uint8_t* src, size_t n) { std::memcpy(dst, src, n); }
#endif

uint32_t LoadAcquire(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

}  // namespace

bool CpuHasAvx2() {
#ifdef GLASSPANE_X86
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
#else
  return false;
#endif
}

void SetCopyStrategy(CopyStrategy s) { g_strategy.store(static_cast<int>(s)); }
CopyStrategy GetCopyStrategy() { return static_cast<CopyStrategy>(g_strategy.load()); }

void FastCopy(uint8_t* dst, const uint8_t* src, size_t n) {
  auto s = GetCopyStrategy();
  bool stream = CpuHasAvx2() && (s == CopyStrategy::kAvx2Stream || (s == CopyStrategy::kAuto && n >= kStreamThreshold));
  if (stream) {
    CopyAvx2Stream(dst, src, n);
  } else {
    std::memcpy(dst, src, n);
  }
}

size_t CopyFollowingWp(uint8_t* dst, const uint8_t* src, size_t len, const uint32_t* wp, uint32_t timeoutMs,
                       CopyAbort abort) {
  if (wp == nullptr) {
    FastCopy(dst, src, len);
    return len;
  }
  using Clock = std::chrono::steady_clock;
  size_t done = 0;
  auto lastProgress = Clock::now();
  uint32_t sleepUs = 0;
  int spins = 0;
  while (done < len) {
    size_t avail = LoadAcquire(wp);
    if (avail > len) avail = len;
    if (avail > done) {
      FastCopy(dst + done, src + done, avail - done);
      done = avail;
      lastProgress = Clock::now();
      sleepUs = 0;
      spins = 0;
      continue;
    }
    // No progress: spin a little (the producer writes ~1 MiB in well under a millisecond), then
    // sleep with a doubling backoff capped at 250 us, and give up after timeoutMs — or at once
    // when the abort word changed (the producer started a new session).
    if (abort.word != nullptr && LoadAcquire(abort.word) != abort.value) break;
    if (spins < 2000) {
      ++spins;
      CpuRelax();
      continue;
    }
    if (Clock::now() - lastProgress >= std::chrono::milliseconds(timeoutMs)) break;
    sleepUs = sleepUs == 0 ? 5 : (sleepUs * 2 > 250 ? 250 : sleepUs * 2);
    SleepMicros(sleepUs);
  }
  return done;
}

void WriteAdvancingWp(uint8_t* dst, const uint8_t* src, size_t len, uint32_t* wp, size_t step) {
  if (step == 0) step = len == 0 ? 1 : len;
  size_t done = 0;
  while (done < len) {
    size_t n = len - done < step ? len - done : step;
    FastCopy(dst + done, src + done, n);
    done += n;
    if (wp != nullptr) __atomic_store_n(wp, static_cast<uint32_t>(done), __ATOMIC_RELEASE);
  }
}

}  // namespace glasspane
