// Capture-mode input through the SDL2 library that @kmamal/sdl has already loaded (as sdl_grab):
// SDL's relative mouse mode with the true per-event deltas, and the host's lock-key state.
// The binding (0.10) gives motion events without xrel/yrel and has neither SDL_SetRelativeMouseMode
// nor SDL_GetModState, so relative motion could only be emulated by warping the pointer, which
// invents motion on every warp and stops at the window edge. Here an SDL event watch (called for
// every event as SDL queues it, before the binding polls it) adds up xrel/yrel; the viewer takes
// the sums when the binding reports the motion. Nothing is linked or loaded by us (RTLD_NOLOAD).
#pragma once

#include <napi.h>

namespace glasspane {

// sdlRelativeMouse(on) -> true/false as SDL_SetRelativeMouseMode succeeded, or null when SDL2 is
// not loaded. Turning it on zeroes the sums and starts adding; off stops adding first.
Napi::Value SdlRelativeMouse(const Napi::CallbackInfo& info);

// sdlTakeMotion() -> [dx, dy, events]: the xrel/yrel sums (and how many motion events) since the
// last call, zeroed by the call.
Napi::Value SdlTakeMotion(const Napi::CallbackInfo& info);

// sdlLockState() -> { caps, num, scroll } from SDL_GetModState(), or null when SDL2 is not loaded.
Napi::Value SdlLockState(const Napi::CallbackInfo& info);

// Removes the event watch; the environment that added it calls this at its teardown. Safe when
// none was added.
void RemoveSdlMotionWatch();

}  // namespace glasspane
