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

// sdlTakeError() -> SDL's pending error text (SDL_GetError) and clears it (SDL_ClearError); null
// when none is pending or SDL2 is not loaded. The binding prints a pending error as "SDL silent
// error: ..." at its next call that checks one, long after the call that set it (e.g. SDL 2.26's
// "Couldn't get DPI" from a display without physical size, printed when the audio devices are
// listed): the viewer takes it where it is set, so it is seen only when it means something.
Napi::Value SdlTakeError(const Napi::CallbackInfo& info);

// sdlStartVideo() -> the video driver's name once SDL_InitSubSystem(SDL_INIT_VIDEO) succeeds
// (it is a no-op that succeeds when video runs already), or null when it fails or SDL2 is not
// loaded. The binding starts video once, when it loads; a display that was briefly unreachable
// then (an X server whose listen queue was full, a session still starting) is tried again
// through this. SDL reads SDL_VIDEODRIVER at each try. JS main thread only.
Napi::Value SdlStartVideo(const Napi::CallbackInfo& info);

}  // namespace glasspane
