#include "sdl_api.h"

#include <dlfcn.h>

#include <cstddef>
#include <mutex>
#include <type_traits>

#if __has_include(<SDL2/SDL.h>) && !defined(GLASSPANE_NO_SDL_HEADERS)
#include <SDL2/SDL.h>
// Where the headers are installed (they are when the binding was built here), hold our copy of
// the ABI to them. Without them the addon still builds: the numbers are SDL2's stable ABI.
static_assert(glasspane::sdl::kXRGB8888 == SDL_PIXELFORMAT_XRGB8888);
static_assert(glasspane::sdl::kARGB8888 == SDL_PIXELFORMAT_ARGB8888);
static_assert(glasspane::sdl::kXBGR8888 == SDL_PIXELFORMAT_XBGR8888);
static_assert(glasspane::sdl::kABGR8888 == SDL_PIXELFORMAT_ABGR8888);
static_assert(glasspane::sdl::kRendererSoftware == SDL_RENDERER_SOFTWARE);
static_assert(glasspane::sdl::kTextureAccessStreaming == SDL_TEXTUREACCESS_STREAMING);
static_assert(glasspane::sdl::kBlendNone == SDL_BLENDMODE_NONE && glasspane::sdl::kBlendBlend == SDL_BLENDMODE_BLEND);
static_assert(glasspane::sdl::kBlendMod == SDL_BLENDMODE_MOD);
static_assert(sizeof(glasspane::sdl::RendererInfo) == sizeof(SDL_RendererInfo));
static_assert(offsetof(glasspane::sdl::RendererInfo, max_texture_width) == offsetof(SDL_RendererInfo, max_texture_width));
static_assert(sizeof(glasspane::sdl::Rect) == sizeof(SDL_Rect) && sizeof(glasspane::sdl::FRect) == sizeof(SDL_FRect));
static_assert(sizeof(glasspane::sdl::FPoint) == sizeof(SDL_FPoint) && glasspane::sdl::kFlipNone == SDL_FLIP_NONE);
#endif

namespace glasspane {

// Resolved once (the binding keeps SDL loaded for the life of the process); looked for again
// while it is not loaded yet. Locked: every environment (worker threads too) may ask.
const SdlApi* FindSdlApi() {
  static std::mutex lock;
  static SdlApi api;
  static bool ok = false;
  std::lock_guard<std::mutex> hold(lock);
  if (ok) return &api;
  void* lib = dlopen("libSDL2-2.0.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (!lib) return nullptr;
  bool all = true;
  auto get = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
    if (!fn) all = false;
  };
  get(api.GetWindowFromID, "SDL_GetWindowFromID");
  get(api.GetRenderer, "SDL_GetRenderer");
  get(api.GetRendererInfo, "SDL_GetRendererInfo");
  get(api.GetRendererOutputSize, "SDL_GetRendererOutputSize");
  get(api.GetWindowPixelFormat, "SDL_GetWindowPixelFormat");
  get(api.CreateTexture, "SDL_CreateTexture");
  get(api.DestroyTexture, "SDL_DestroyTexture");
  get(api.UpdateTexture, "SDL_UpdateTexture");
  get(api.LockTexture, "SDL_LockTexture");
  get(api.UnlockTexture, "SDL_UnlockTexture");
  get(api.SetTextureBlendMode, "SDL_SetTextureBlendMode");
  get(api.SetTextureScaleMode, "SDL_SetTextureScaleMode");
  get(api.SetRenderDrawColor, "SDL_SetRenderDrawColor");
  get(api.GetRenderDrawBlendMode, "SDL_GetRenderDrawBlendMode");
  get(api.SetRenderDrawBlendMode, "SDL_SetRenderDrawBlendMode");
  get(api.RenderFillRects, "SDL_RenderFillRects");
  get(api.RenderCopy, "SDL_RenderCopy");
  get(api.RenderCopyF, "SDL_RenderCopyF");
  get(api.RenderCopyExF, "SDL_RenderCopyExF");
  get(api.RenderPresent, "SDL_RenderPresent");
  get(api.GetError, "SDL_GetError");
  get(api.ClearError, "SDL_ClearError");
  get(api.GL_GetCurrentWindow, "SDL_GL_GetCurrentWindow");
  get(api.GL_GetCurrentContext, "SDL_GL_GetCurrentContext");
  get(api.GL_GetProcAddress, "SDL_GL_GetProcAddress");
  dlclose(lib);  // drop the reference NOLOAD took; the binding's stays
  ok = all;
  return ok ? &api : nullptr;
}

}  // namespace glasspane
