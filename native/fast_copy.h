// Bulk copies into and out of a region whose producer publishes progress through a write pointer
// (`wp`, u32 bytes written, stored with release ordering). Nothing here knows about frames.
#pragma once
#include <cstddef>
#include <cstdint>

namespace glasspane {

enum class CopyStrategy { kAuto = 0, kMemcpy = 1, kAvx2Stream = 2 };

void SetCopyStrategy(CopyStrategy s);
CopyStrategy GetCopyStrategy();
bool CpuHasAvx2();

// Plain bulk copy with the selected strategy.
void FastCopy(uint8_t* dst, const uint8_t* src, size_t n);

// Copies `len` bytes from `src` while the producer is still writing them: copies what *wp says is
// written, waits for more (spins briefly, then sleeps with backoff) and gives up once `timeoutMs`
// pass without progress. `wp == nullptr` means everything is already written. Returns the bytes
// copied (== len on success). A wp beyond len (hostile or buggy producer) is clamped to len.
// `abort` (optional): stop waiting as soon as the u32 there differs from `abortValue` — e.g. the
// producer's session id, so a producer that restarts mid-frame does not cost the whole timeout.
struct CopyAbort {
  const uint32_t* word = nullptr;
  uint32_t value = 0;
};
size_t CopyFollowingWp(uint8_t* dst, const uint8_t* src, size_t len, const uint32_t* wp, uint32_t timeoutMs,
                       CopyAbort abort = {});

// Producer side: copies `len` bytes to `dst`, publishing *wp = bytes written after every `step`
// bytes (and at the end), so a consumer can copy behind it. `wp == nullptr` publishes nothing.
void WriteAdvancingWp(uint8_t* dst, const uint8_t* src, size_t len, uint32_t* wp, size_t step);

}  // namespace glasspane
