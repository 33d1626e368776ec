// X11Capture (see x11_capture.h): connecting, the screen, the region handed to the X server and
// the pixmaps over its frame buffers, warps and shutdown. The event thread is x11_events.cc, the
// round trips on the pool x11_requests.cc.
#include "x11_capture.h"
#include "x11_util.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xcb/damage.h>
#include <xcb/shm.h>
#include <xcb/xfixes.h>
#include <xcb/xinput.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>

namespace glasspane {

using namespace x11;

X11Capture::Busy::Busy(X11Capture* c) : self(c), ok(false) {
  c->busy_++;
  ok = !c->closing_.load();
}
X11Capture::Busy::~Busy() { self->busy_--; }

Napi::Function X11Capture::Init(Napi::Env env) {
  return DefineClass(env, "X11Capture",
                     {
                         InstanceMethod<&X11Capture::Screen>("screen"),
                         InstanceMethod<&X11Capture::Start>("start"),
                         InstanceMethod<&X11Capture::TakeEvents>("takeEvents"),
                         InstanceMethod<&X11Capture::Attach>("attach"),
                         InstanceMethod<&X11Capture::SetTargets>("setTargets"),
                         InstanceMethod<&X11Capture::TakeDamageAsync>("takeDamageAsync"),
                         InstanceMethod<&X11Capture::CopyAsync>("copyAsync"),
                         InstanceMethod<&X11Capture::CursorAsync>("cursorAsync"),
                         InstanceMethod<&X11Capture::Warp>("warp"),
                         InstanceMethod<&X11Capture::Close>("close"),
                         InstanceAccessor<&X11Capture::GetClosed>("closed"),
                     });
}

// new X11Capture(display: string | null): connects and sets up every watch; throws X11_CONNECT or
// X11_EXTENSION (naming the extension and the version found).
X11Capture::X11Capture(const Napi::CallbackInfo& info) : Napi::ObjectWrap<X11Capture>(info) {
  Napi::Env env = info.Env();
  std::string display = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  int screenNum = 0;
  conn_ = xcb_connect(display.empty() ? nullptr : display.c_str(), &screenNum);
  if (xcb_connection_has_error(conn_)) {
    xcb_disconnect(conn_);
    conn_ = nullptr;
    throw CodedError(env, "X11_CONNECT", "cannot connect to the X display " + (display.empty() ? std::string("(DISPLAY is not set)") : display));
  }
  auto fail = [&](const char* code, const std::string& msg) {
    xcb_disconnect(conn_);
    conn_ = nullptr;
    return CodedError(env, code, msg);
  };
  xcb_screen_iterator_t it = xcb_setup_roots_iterator(xcb_get_setup(conn_));
  for (int i = 0; i < screenNum && it.rem; ++i) xcb_screen_next(&it);
  if (!it.rem) throw fail("X11_CONNECT", "the X display has no screen " + std::to_string(screenNum));
  screen_ = it.data;
  root_ = screen_->root;

  xcb_prefetch_extension_data(conn_, &xcb_shm_id);
  xcb_prefetch_extension_data(conn_, &xcb_damage_id);
  xcb_prefetch_extension_data(conn_, &xcb_xfixes_id);
  xcb_prefetch_extension_data(conn_, &xcb_input_id);
  const xcb_query_extension_reply_t* shm = xcb_get_extension_data(conn_, &xcb_shm_id);
  const xcb_query_extension_reply_t* dmg = xcb_get_extension_data(conn_, &xcb_damage_id);
  const xcb_query_extension_reply_t* fix = xcb_get_extension_data(conn_, &xcb_xfixes_id);
  const xcb_query_extension_reply_t* xi = xcb_get_extension_data(conn_, &xcb_input_id);
  for (auto [ext, name] : {std::pair{shm, "MIT-SHM"}, {dmg, "DAMAGE"}, {fix, "XFIXES"}, {xi, "XInputExtension"}}) {
    if (!ext || !ext->present) throw fail("X11_EXTENSION", std::string("the X server has no ") + name + " extension");
  }
  // Xwayland has every extension, but its root window holds only the X11 windows of a Wayland
  // desktop: capturing it would send a black screen with a few windows. Refused by name.
  auto xwl = Owned(xcb_query_extension_reply(conn_, xcb_query_extension(conn_, 8, "XWAYLAND"), nullptr));
  if (xwl && xwl->present)
    throw fail("X11_EXTENSION", "the X display is Xwayland: the desktop is a Wayland session, whose screen an X11 client cannot capture (log in to an X11 session)");
  damageEvent_ = dmg->first_event;
  xfixesEvent_ = fix->first_event;
  xinputOpcode_ = xi->major_opcode;

  auto sv = Owned(xcb_shm_query_version_reply(conn_, xcb_shm_query_version(conn_), nullptr));
  auto dv = Owned(xcb_damage_query_version_reply(conn_, xcb_damage_query_version(conn_, 1, 1), nullptr));
  auto fv = Owned(xcb_xfixes_query_version_reply(conn_, xcb_xfixes_query_version(conn_, 5, 0), nullptr));
  auto iv = Owned(xcb_input_xi_query_version_reply(conn_, xcb_input_xi_query_version(conn_, 2, 2), nullptr));
  if (!sv || !dv || !fv || !iv) throw fail("X11_EXTENSION", "the X server did not answer an extension version query");
  shmMajor_ = sv->major_version;
  shmMinor_ = sv->minor_version;
  sharedPixmaps_ = sv->shared_pixmaps;
  // MIT-SHM 1.2 passes a file descriptor (the region) instead of a System V segment; shared
  // pixmaps let CopyArea write a rectangle at its place in a frame of the region's pitch.
  if (shmMajor_ < 1 || (shmMajor_ == 1 && shmMinor_ < 2) || !sharedPixmaps_)
    throw fail("X11_EXTENSION", "MIT-SHM " + std::to_string(shmMajor_) + "." + std::to_string(shmMinor_) + (sharedPixmaps_ ? "" : " without shared pixmaps") + " found; 1.2 with shared pixmaps is needed");
  if (dv->major_version < 1) throw fail("X11_EXTENSION", "DAMAGE " + std::to_string(dv->major_version) + " found; 1.1 is needed");
  if (fv->major_version < 2) throw fail("X11_EXTENSION", "XFIXES " + std::to_string(fv->major_version) + " found; 2.0 is needed");
  if (iv->major_version < 2 || (iv->major_version == 2 && iv->minor_version < 1))
    throw fail("X11_EXTENSION", "XInput " + std::to_string(iv->major_version) + "." + std::to_string(iv->minor_version) + " found; 2.1 is needed");

  // Watches: damage to the root (its inferiors included) reported once per empty → non-empty,
  // the displayed cursor changing, the root's size (RandR resizes it), raw pointer motion.
  damage_ = xcb_generate_id(conn_);
  xcb_damage_create(conn_, damage_, root_, XCB_DAMAGE_REPORT_LEVEL_NON_EMPTY);
  region_ = xcb_generate_id(conn_);
  xcb_xfixes_create_region(conn_, region_, 0, nullptr);
  xcb_xfixes_select_cursor_input(conn_, root_, XCB_XFIXES_CURSOR_NOTIFY_MASK_DISPLAY_CURSOR);
  uint32_t mask = XCB_EVENT_MASK_STRUCTURE_NOTIFY;
  xcb_change_window_attributes(conn_, root_, XCB_CW_EVENT_MASK, &mask);
  struct {
    xcb_input_event_mask_t head;
    uint32_t bits;
  } xiMask{{XCB_INPUT_DEVICE_ALL_MASTER, 1}, XCB_INPUT_XI_EVENT_MASK_RAW_MOTION};
  xcb_input_xi_select_events(conn_, root_, 1, &xiMask.head);
  gc_ = xcb_generate_id(conn_);
  uint32_t gcValues[] = {XCB_SUBWINDOW_MODE_INCLUDE_INFERIORS, 0};  // in bit order: subwindow mode, graphics exposures
  xcb_void_cookie_t gcCookie = xcb_create_gc_checked(conn_, gc_, root_, XCB_GC_SUBWINDOW_MODE | XCB_GC_GRAPHICS_EXPOSURES, gcValues);
  if (xcb_generic_error_t* err = xcb_request_check(conn_, gcCookie)) {
    std::string msg = "setting up the capture failed: " + DescribeXError(err);
    free(err);
    throw fail("X11_REQUEST", msg);
  }
  wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd_ < 0) throw fail("X11_CONNECT", std::string("eventfd failed: ") + strerror(errno));
  env.GetInstanceData<X11State>()->captures.insert(this);
}

X11Capture::~X11Capture() { Shutdown(); }

void X11Capture::CheckOpen(Napi::Env env) {
  if (!conn_ || closing_) throw CodedError(env, "X11_CLOSED", "the X11 capture is closed");
}

X11Capture::Target X11Capture::TargetAt(size_t i) {
  std::lock_guard<std::mutex> lk(mu_);
  if (i >= pixmaps_.size()) return {};
  return {pixmaps_[i], offsets_[i], targetWidth_, targetPitch_, seg_};
}

void X11Capture::Poke() {
  if (wakeFd_ < 0) return;
  uint64_t one = 1;
  ssize_t n = write(wakeFd_, &one, sizeof one);
  (void)n;
}

void X11Capture::NoteError(const std::string& what) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (errors_.size() < 16) errors_.push_back(what);
  }
  Raise(kError);
}

void X11Capture::Raise(uint32_t bits) {
  if (pending_.fetch_or(bits) == 0 && started_) tsfn_.NonBlockingCall();
}

void X11Capture::Deliver(Napi::Env env, Napi::Function, X11Capture* self, void*) {
  if (env == nullptr || self->shut_ || self->onWake_.IsEmpty()) return;
  self->onWake_.Call({});
}

// screen() -> { width, height, depth, bitsPerPixel, scanlinePad, redMask, greenMask, blueMask }
// (a round trip for the root's size; the rest comes from the connection setup).
Napi::Value X11Capture::Screen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  auto geo = Owned(xcb_get_geometry_reply(conn_, xcb_get_geometry(conn_, root_), nullptr));
  Poke();
  if (!geo) throw CodedError(env, "X11_REQUEST", "reading the root window's size failed: the connection to the X server was lost");
  auto out = Napi::Object::New(env);
  out.Set("width", geo->width);
  out.Set("height", geo->height);
  out.Set("depth", screen_->root_depth);
  uint32_t bpp = 0, pad = 0;
  const xcb_setup_t* setup = xcb_get_setup(conn_);
  for (auto f = xcb_setup_pixmap_formats_iterator(setup); f.rem; xcb_format_next(&f)) {
    if (f.data->depth == screen_->root_depth) {
      bpp = f.data->bits_per_pixel;
      pad = f.data->scanline_pad;
    }
  }
  out.Set("bitsPerPixel", bpp);
  out.Set("scanlinePad", pad);
  out.Set("imageByteOrder", setup->image_byte_order == XCB_IMAGE_ORDER_LSB_FIRST ? "lsb" : "msb");
  uint32_t masks[3] = {0, 0, 0};
  for (auto d = xcb_screen_allowed_depths_iterator(screen_); d.rem; xcb_depth_next(&d)) {
    for (auto v = xcb_depth_visuals_iterator(d.data); v.rem; xcb_visualtype_next(&v)) {
      if (v.data->visual_id == screen_->root_visual) {
        masks[0] = v.data->red_mask;
        masks[1] = v.data->green_mask;
        masks[2] = v.data->blue_mask;
      }
    }
  }
  out.Set("redMask", masks[0]);
  out.Set("greenMask", masks[1]);
  out.Set("blueMask", masks[2]);
  return out;
}

// start(onWake): starts the event thread; onWake() runs on the JS thread whenever takeEvents()
// has something new (once per empty → non-empty). The callback does not keep the process alive.
Napi::Value X11Capture::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (started_) throw Napi::Error::New(env, "the X11 capture is already started");
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "start(onWake: () => void)");
  onWake_ = Napi::Persistent(info[0].As<Napi::Function>());
  tsfn_ = Tsfn::New(env, "glasspane.x11", 0, 1, this);
  tsfn_.Unref(env);
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  // Anything raised before the thread ran (nothing yet) still wakes JS.
  if (pending_.load()) tsfn_.NonBlockingCall();
  return env.Undefined();
}

// takeEvents() -> { bits, errors: string[], pointer: { x, y, onScreen } }: the pending bits
// (cleared), the X errors since, and the pointer's last known hotspot position.
Napi::Value X11Capture::TakeEvents(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto out = Napi::Object::New(env);
  out.Set("bits", pending_.exchange(0));
  auto errs = Napi::Array::New(env);
  auto ptr = Napi::Object::New(env);
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (size_t i = 0; i < errors_.size(); ++i) errs.Set(static_cast<uint32_t>(i), errors_[i]);
    errors_.clear();
    ptr.Set("x", pointer_.x);
    ptr.Set("y", pointer_.y);
    ptr.Set("onScreen", pointer_.onScreen);
  }
  out.Set("errors", errs);
  out.Set("pointer", ptr);
  return out;
}

// attach(path): opens `path` read-write and hands it to the X server as the MIT-SHM segment
// (ShmAttachFd); the server maps the whole file. A previous segment (and its pixmaps) is dropped.
// Throws X11_SHM naming the errno or the X error.
Napi::Value X11Capture::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "attach(path: string)");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  FreeTargets();
  if (seg_) xcb_shm_detach(conn_, seg_);
  seg_ = 0;
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw CodedError(env, "X11_SHM", "cannot open " + path + " for the X server: " + strerror(errno));
  uint32_t seg = xcb_generate_id(conn_);
  // xcb sends the descriptor and closes it.
  xcb_void_cookie_t c = xcb_shm_attach_fd_checked(conn_, seg, fd, 0);
  xcb_generic_error_t* err = xcb_request_check(conn_, c);
  Poke();
  if (err) {
    std::string msg = "the X server could not map " + path + ": " + DescribeXError(err);
    free(err);
    throw CodedError(env, "X11_SHM", msg);
  }
  seg_ = seg;
  return env.Undefined();
}

void X11Capture::FreeTargets() {
  std::lock_guard<std::mutex> lk(mu_);
  for (uint32_t p : pixmaps_) xcb_free_pixmap(conn_, p);
  pixmaps_.clear();
  offsets_.clear();
}

// setTargets(offsets: number[], width, height): one shared pixmap of width x height at each byte
// offset of the attached segment (the frame buffers' first pixel), replacing the previous ones.
// Their rows are the server's pitch for the root depth (the caller computes the same). Throws
// X11_SHM when the server refuses one (e.g. it would run past the end of the file).
Napi::Value X11Capture::SetTargets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  if (!seg_) throw CodedError(env, "X11_SHM", "no shared-memory segment is attached");
  if (!info[0].IsArray() || !info[1].IsNumber() || !info[2].IsNumber()) throw Napi::TypeError::New(env, "setTargets(offsets: number[], width: number, height: number)");
  auto offsets = info[0].As<Napi::Array>();
  int64_t w = info[1].As<Napi::Number>().Int64Value(), h = info[2].As<Napi::Number>().Int64Value();
  if (w < 1 || h < 1 || w > 32767 || h > 32767 || offsets.Length() > 8) throw Napi::RangeError::New(env, "setTargets: size or count out of range");
  FreeTargets();
  std::vector<uint32_t> made, at;
  std::vector<xcb_void_cookie_t> cookies;
  for (uint32_t i = 0; i < offsets.Length(); ++i) {
    double off = offsets.Get(i).As<Napi::Number>().DoubleValue();
    if (!(off >= 0) || off > 4294967295.0) throw Napi::RangeError::New(env, "setTargets: offset out of range");
    uint32_t p = xcb_generate_id(conn_);
    cookies.push_back(xcb_shm_create_pixmap_checked(conn_, p, root_, static_cast<uint16_t>(w), static_cast<uint16_t>(h), screen_->root_depth, seg_, static_cast<uint32_t>(off)));
    made.push_back(p);
    at.push_back(static_cast<uint32_t>(off));
  }
  // The server's row pitch for the root depth: what its pixmaps (and ShmGetImage) use.
  uint32_t bpp = 32, pad = 32;
  for (auto f = xcb_setup_pixmap_formats_iterator(xcb_get_setup(conn_)); f.rem; xcb_format_next(&f)) {
    if (f.data->depth == screen_->root_depth) {
      bpp = f.data->bits_per_pixel;
      pad = f.data->scanline_pad ? f.data->scanline_pad : 32;
    }
  }
  const uint32_t pitch = static_cast<uint32_t>((w * bpp + pad - 1) / pad * pad / 8);
  std::string failure;
  for (size_t i = 0; i < cookies.size(); ++i) {
    if (xcb_generic_error_t* err = xcb_request_check(conn_, cookies[i])) {
      if (failure.empty()) failure = "the X server refused a " + std::to_string(w) + "x" + std::to_string(h) + " pixmap in the region: " + DescribeXError(err);
      free(err);
      made[i] = 0;
    }
  }
  Poke();
  if (!failure.empty()) {
    for (uint32_t p : made)
      if (p) xcb_free_pixmap(conn_, p);
    xcb_flush(conn_);
    throw CodedError(env, "X11_SHM", failure);
  }
  std::lock_guard<std::mutex> lk(mu_);
  pixmaps_ = std::move(made);
  offsets_ = std::move(at);
  targetWidth_ = static_cast<uint32_t>(w);
  targetPitch_ = pitch;
  return env.Undefined();
}

// warp(x, y): moves the pointer to root (x, y) (a consumer's SETCURSORPOS). No round trip.
Napi::Value X11Capture::Warp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env);
  int32_t x = info[0].ToNumber().Int32Value(), y = info[1].ToNumber().Int32Value();
  x = std::max(-32768, std::min(32767, x));
  y = std::max(-32768, std::min(32767, y));
  xcb_warp_pointer(conn_, XCB_NONE, root_, 0, 0, 0, 0, static_cast<int16_t>(x), static_cast<int16_t>(y));
  xcb_flush(conn_);
  queryPointer_ = true;
  Poke();
  return env.Undefined();
}

Napi::Value X11Capture::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value X11Capture::GetClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), conn_ == nullptr || closing_); }

void X11Capture::Shutdown() {
  if (shut_) return;
  shut_ = true;
  closing_ = true;
  if (conn_) {
    // Round trips in flight end at once with "connection lost" instead of waiting on the server.
    shutdown(xcb_get_file_descriptor(conn_), SHUT_RDWR);
  }
  Poke();
  if (thread_.joinable()) thread_.join();
  while (busy_.load() > 0) std::this_thread::yield();
  if (started_) tsfn_.Release();
  onWake_.Reset();
  if (conn_) xcb_disconnect(conn_);
  conn_ = nullptr;
  if (wakeFd_ >= 0) close(wakeFd_);
  wakeFd_ = -1;
  Napi::Env env = Env();
  if (auto* state = env.GetInstanceData<X11State>()) state->captures.erase(this);
}

}  // namespace glasspane
