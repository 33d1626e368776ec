// The X11 capture's event thread (see x11_capture.h): waits on the connection and the wake
// eventfd, turns events into pending bits for JS, and keeps the pointer position current.
#include <poll.h>
#include <unistd.h>
#include <xcb/damage.h>
#include <xcb/xfixes.h>
#include <xcb/xinput.h>

#include <cerrno>
#include <chrono>

#include "x11_capture.h"
#include "x11_util.h"

namespace glasspane {

using namespace x11;

// On the event thread: QueryPointer, and kPointer when the answer differs from the last one (true).
bool X11Capture::ReadPointer() {
  auto r = Owned(xcb_query_pointer_reply(conn_, xcb_query_pointer(conn_, root_), nullptr));
  if (!r) return false;  // the connection is gone: the loop notices
  bool changed;
  {
    std::lock_guard<std::mutex> lk(mu_);
    Pointer now{r->root_x, r->root_y, static_cast<bool>(r->same_screen), true};
    changed = !pointer_.known || now.x != pointer_.x || now.y != pointer_.y || now.onScreen != pointer_.onScreen;
    pointer_ = now;
  }
  if (changed) Raise(kPointer);
  return changed;
}

void X11Capture::Run() {
  const int xfd = xcb_get_file_descriptor(conn_);
  using Clock = std::chrono::steady_clock;
  Clock::time_point lastChange = Clock::now() - std::chrono::seconds(1), nextPoll = Clock::now();
  for (;;) {
    while (xcb_generic_event_t* ev = xcb_poll_for_event(conn_)) {
      Handle(ev);
      free(ev);
    }
    if (closing_) return;
    if (xcb_connection_has_error(conn_)) {
      Raise(kGone);
      return;
    }
    // Raw motion says the pointer moved; warps by other clients say nothing, so a poll finds them:
    // often just after a change (a click that warps), rarely when the pointer rests.
    Clock::time_point now = Clock::now();
    if (queryPointer_.exchange(false) || now >= nextPoll) {
      if (ReadPointer()) lastChange = now;
      bool recent = now - lastChange < std::chrono::milliseconds(500);
      nextPoll = now + std::chrono::milliseconds(recent ? 16 : 100);
      continue;  // the reply may have brought events into the queue
    }
    int timeoutMs = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(nextPoll - now).count()) + 1;
    pollfd fds[2] = {{xfd, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    int n = poll(fds, 2, timeoutMs);
    if (n < 0 && errno != EINTR) {
      Raise(kGone);
      return;
    }
    if (fds[1].revents & POLLIN) {
      uint64_t v;
      ssize_t r = read(wakeFd_, &v, sizeof v);
      (void)r;
    }
    if (fds[0].revents & (POLLHUP | POLLERR)) {
      // Drain what is left, then the connection error ends the loop above.
      while (xcb_generic_event_t* ev = xcb_poll_for_event(conn_)) {
        Handle(ev);
        free(ev);
      }
      if (!closing_) Raise(kGone);
      return;
    }
  }
}

void X11Capture::Handle(xcb_generic_event_t* ev) {
  const uint8_t type = ev->response_type & 0x7f;
  if (type == 0) {
    NoteError(DescribeXError(reinterpret_cast<xcb_generic_error_t*>(ev)));
  } else if (type == damageEvent_ + XCB_DAMAGE_NOTIFY) {
    Raise(kDamage);
  } else if (type == xfixesEvent_ + XCB_XFIXES_CURSOR_NOTIFY) {
    Raise(kCursor);
  } else if (type == XCB_CONFIGURE_NOTIFY) {
    if (reinterpret_cast<xcb_configure_notify_event_t*>(ev)->window == root_) Raise(kScreen | kDamage);
  } else if (type == XCB_GE_GENERIC) {
    auto* ge = reinterpret_cast<xcb_ge_generic_event_t*>(ev);
    if (ge->extension == xinputOpcode_ && ge->event_type == XCB_INPUT_RAW_MOTION) queryPointer_ = true;
  }
}

}  // namespace glasspane
