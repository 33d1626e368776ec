// Per-environment state of the addon (the main thread and every worker thread is its own
// environment): the regions and watchers it opened, so that an environment's teardown closes
// only its own — a worker exiting must never unmap memory the main thread still reads.
// Kept with napi_set_instance_data, as better-sqlite3 keeps its open databases.
#pragma once
#include <napi.h>

#include <set>

namespace glasspane {

class Region;
class Watcher;

struct AddonState {
  std::set<Region*> regions;
  std::set<Watcher*> watchers;
};

// The calling environment's state (created by the addon's Init).
inline AddonState& StateOf(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }

}  // namespace glasspane
