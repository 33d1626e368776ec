// Window grabs through the SDL2 library that @kmamal/sdl has already loaded into this process.
// The binding (0.10) exposes no keyboard or mouse grab, so capture mode could not keep desktop
// shortcuts (Alt+Tab, Super) from leaving the guest. We look SDL up with RTLD_NOLOAD: nothing is
// linked or loaded by us, and without SDL in the process (headless) the call reports "unavailable".
#pragma once

#include <napi.h>

namespace glasspane {

// sdlWindowGrab(windowId, keyboard, mouse) -> { keyboard, mouse } as SDL reports them afterwards,
// or null when SDL2 (>= 2.0.16) is not loaded or the window id is unknown. JS main thread only
// (SDL's video calls belong to the thread that drives its events, which is the JS thread here).
Napi::Value SdlWindowGrab(const Napi::CallbackInfo& info);

}  // namespace glasspane
