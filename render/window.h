// Window: an SDL2 window with a Vulkan surface, and the input it receives as InputSnapshots.
//
// The presenter owns one in windowed mode (headless mode never touches SDL, so it runs without an
// X server). poll() drains SDL's event queue once per displayed frame: keys are SDL scancodes, which
// equal USB HID usage ids; mouse motion and wheel accumulate between polls; gamepad axes are
// normalised to [-1, 1] (sticks) and [0, 1] (triggers). Other listeners (the ImGui overlay) see
// every event through set_event_listener().
#pragma once

#include <SDL2/SDL.h>
#include <vulkan/vulkan.h>

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "sim/frame_types.h"

namespace wl {

struct WindowInfo {
  const char* title = "worldloop";   // title bar text
  int width = 1280;                   // initial client size in pixels
  int height = 720;
  bool resizable = true;              // the user may resize it
};

class Window {
 public:
  explicit Window(const WindowInfo& info);   // throws wl::Error (no display, no Vulkan support in SDL)
  ~Window();
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;

  // [SECTION] Vulkan
  std::vector<const char*> vulkan_instance_extensions() const;
  VkSurfaceKHR create_surface(VkInstance instance) const;   // the caller owns the result
  VkExtent2D drawable_size() const;                          // {0, 0} while minimised

  // [SECTION] Input
  InputSnapshot poll();
  bool close_requested() const { return close_requested_; }
  // Called with every SDL event, before poll() interprets it (the overlay feeds ImGui this way).
  void set_event_listener(std::function<void(const SDL_Event&)> listener) { listener_ = std::move(listener); }
  // Relative mode hides the cursor and reports unbounded motion, for camera control.
  void set_relative_mouse(bool on);

  // [SECTION] Control (tests resize the window; the overlay's backend needs the raw handle)
  void set_size(int width, int height);
  SDL_Window* sdl_window() const { return window_.get(); }

 private:
  struct SdlSubsystems {
    SdlSubsystems();    // SDL_InitSubSystem(video, game controller)
    ~SdlSubsystems();   // SDL_QuitSubSystem
  };
  struct WindowDeleter {
    void operator()(SDL_Window* w) const { SDL_DestroyWindow(w); }
  };
  struct ControllerDeleter {
    void operator()(SDL_GameController* c) const { SDL_GameControllerClose(c); }
  };
  void open_first_controller();

  std::function<void(const SDL_Event&)> listener_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  float mouse_dx_ = 0.f, mouse_dy_ = 0.f, wheel_ = 0.f;   // accumulated since the last poll
  bool focused_ = true;
  bool close_requested_ = false;
  // Declared in creation order; destroyed in reverse: controller, window, then SDL itself.
  SdlSubsystems subsystems_;
  std::unique_ptr<SDL_Window, WindowDeleter> window_;
  std::unique_ptr<SDL_GameController, ControllerDeleter> controller_;
};

}  // namespace wl
