// glasspane_x11: the X11 capture addon of `glasspane capture` (native/x11_capture.h), a module of
// its own so that the core addon builds and loads where the xcb development files are missing
// (binding.gyp builds this target only where pkg-config finds them). src/native.ts loads it.
#include <napi.h>

#include "x11_capture.h"

using namespace glasspane;

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* state = new X11State();
  env.SetInstanceData(state);
  exports.Set("X11Capture", X11Capture::Init(env));
  // At this environment's teardown: stop the event threads and disconnect.
  env.AddCleanupHook([state] {
    auto copy = state->captures;
    for (X11Capture* c : copy) c->Shutdown();
  });
  return exports;
}

}  // namespace

NODE_API_MODULE(glasspane_x11, Init)
