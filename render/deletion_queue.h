// DeletionQueue: owners of resources the GPU may still be reading, kept alive until it is done.
//
// Each frame in flight has one. Whatever is retired while recording frame N (an old swapchain, its
// framebuffers) is moved in with defer(); the presenter calls flush() after that frame slot's fence
// has signalled, which destroys the owners newest first. Move-only owners are welcome: the queue
// holds them by value behind a small type-erased box.
#pragma once

#include <memory>
#include <utility>
#include <vector>

namespace wl {

class DeletionQueue {
 public:
  DeletionQueue() = default;
  DeletionQueue(DeletionQueue&&) = default;
  DeletionQueue& operator=(DeletionQueue&&) = default;
  ~DeletionQueue() { flush(); }

  // Takes ownership of `owner`; it is destroyed by the next flush().
  template <typename Owner>
  void defer(Owner&& owner) {
    boxes_.push_back(std::make_unique<Box<std::decay_t<Owner>>>(std::forward<Owner>(owner)));
  }

  // Destroys the deferred owners in reverse order of deferral.
  void flush() {
    while (!boxes_.empty()) boxes_.pop_back();
  }

  bool empty() const { return boxes_.empty(); }

 private:
  struct BoxBase {
    virtual ~BoxBase() = default;
  };
  template <typename Owner>
  struct Box : BoxBase {
    explicit Box(Owner&& o) : owner(std::move(o)) {}
    Owner owner;
  };
  std::vector<std::unique_ptr<BoxBase>> boxes_;
};

}  // namespace wl
