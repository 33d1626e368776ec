// Fault guard: survives SIGBUS inside our own shared-memory mappings.
//
// A file-backed MAP_SHARED mapping raises SIGBUS when a page past the file's end is touched,
// e.g. after `truncate -s 0 /dev/shm/NAME`, a host script re-creating the region, or a full
// tmpfs. Following libwayland-server's wl_shm_buffer_begin_access(), a process-wide SIGBUS
// handler checks whether the faulting address lies inside a registered mapping; if so it maps
// anonymous zero pages over that whole mapping (MAP_FIXED) and flags it broken, so the faulting
// instruction re-runs on zeros, the reader finishes safely, and the owner reports an error and
// re-opens. A fault anywhere else is handed to the handler that was installed before ours (or the
// default action, which kills the process as before).
//
// Everything the handler touches is a fixed array of atomics: no locks, no allocation.
#pragma once
#include <cstddef>

namespace glasspane {

// Installs the handler (once per process; later calls do nothing).
void InstallFaultGuard();

// Registers [base, base + length) and returns its slot, or -1 when every slot is taken (the
// mapping then works unguarded). Call GuardUnregister(slot) BEFORE munmap: it waits for a
// handler that is inside this slot to finish, so no MAP_FIXED can land on reused address space.
int GuardRegister(void* base, size_t length);
void GuardUnregister(int slot);

// True once a fault was survived in this slot: the mapping now reads zeros.
bool GuardBroken(int slot);

// Test hook: how many faults were survived process-wide.
unsigned long GuardFaultCount();

}  // namespace glasspane
