// SDL2 window, Vulkan surface and input polling. See window.h.
#include "render/window.h"

#include <SDL2/SDL_vulkan.h>

#include <algorithm>
#include <utility>

#include "kernels/core/error.h"

namespace wl {
namespace {

constexpr Uint32 kSubsystems = SDL_INIT_VIDEO | SDL_INIT_GAMECONTROLLER;

float stick(Sint16 value) { return std::max(-1.f, static_cast<float>(value) / 32767.f); }
float trigger(Sint16 value) { return std::clamp(static_cast<float>(value) / 32767.f, 0.f, 1.f); }

}  // namespace

Window::SdlSubsystems::SdlSubsystems() {
  WL_CHECK(SDL_InitSubSystem(kSubsystems) == 0, "SDL could not start its video subsystem: ", SDL_GetError(),
           " (a window needs an X server: set DISPLAY, run under xvfb-run, or use headless mode)");
}

Window::SdlSubsystems::~SdlSubsystems() { SDL_QuitSubSystem(kSubsystems); }

Window::Window(const WindowInfo& info) {
  WL_CHECK(info.width > 0 && info.height > 0, "window size must be positive, got ", info.width, "x", info.height);
  Uint32 flags = SDL_WINDOW_VULKAN | SDL_WINDOW_SHOWN | (info.resizable ? SDL_WINDOW_RESIZABLE : 0);
  window_.reset(SDL_CreateWindow(info.title, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, info.width,
                                 info.height, flags));
  WL_CHECK(window_, "SDL could not make a Vulkan window: ", SDL_GetError(),
           " (is libvulkan1 installed and the display an X server?)");
  open_first_controller();
}

Window::~Window() = default;

void Window::open_first_controller() {
  for (int i = 0; i < SDL_NumJoysticks() && !controller_; ++i)
    if (SDL_IsGameController(i)) controller_.reset(SDL_GameControllerOpen(i));
}

std::vector<const char*> Window::vulkan_instance_extensions() const {
  unsigned count = 0;
  WL_CHECK(SDL_Vulkan_GetInstanceExtensions(window_.get(), &count, nullptr), "SDL_Vulkan_GetInstanceExtensions: ",
           SDL_GetError());
  std::vector<const char*> names(count);
  WL_CHECK(SDL_Vulkan_GetInstanceExtensions(window_.get(), &count, names.data()),
           "SDL_Vulkan_GetInstanceExtensions: ", SDL_GetError());
  return names;
}

VkSurfaceKHR Window::create_surface(VkInstance instance) const {
  VkSurfaceKHR surface = VK_NULL_HANDLE;
  WL_CHECK(SDL_Vulkan_CreateSurface(window_.get(), instance, &surface), "SDL could not make a Vulkan surface: ",
           SDL_GetError());
  return surface;
}

VkExtent2D Window::drawable_size() const {
  if (SDL_GetWindowFlags(window_.get()) & SDL_WINDOW_MINIMIZED) return {0, 0};
  int width = 0, height = 0;
  SDL_Vulkan_GetDrawableSize(window_.get(), &width, &height);
  return {static_cast<uint32_t>(std::max(width, 0)), static_cast<uint32_t>(std::max(height, 0))};
}

void Window::set_relative_mouse(bool on) { SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE); }

void Window::set_size(int width, int height) { SDL_SetWindowSize(window_.get(), width, height); }

InputSnapshot Window::poll() {
  InputSnapshot snapshot;
  SDL_Event event;
  while (SDL_PollEvent(&event)) {
    if (listener_) listener_(event);
    switch (event.type) {
      case SDL_QUIT: close_requested_ = true; break;
      case SDL_WINDOWEVENT:
        if (event.window.event == SDL_WINDOWEVENT_CLOSE) close_requested_ = true;
        if (event.window.event == SDL_WINDOWEVENT_FOCUS_GAINED) focused_ = true;
        if (event.window.event == SDL_WINDOWEVENT_FOCUS_LOST) focused_ = false;
        break;
      case SDL_KEYDOWN:
        if (!event.key.repeat && event.key.keysym.scancode < InputSnapshot::kKeyCount)
          snapshot.keys_pressed.set(event.key.keysym.scancode);
        break;
      case SDL_MOUSEMOTION:
        mouse_dx_ += static_cast<float>(event.motion.xrel);
        mouse_dy_ += static_cast<float>(event.motion.yrel);
        break;
      case SDL_MOUSEWHEEL:
        wheel_ += (event.wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -1.f : 1.f) * event.wheel.preciseY;
        break;
      case SDL_CONTROLLERDEVICEADDED:
        if (!controller_) open_first_controller();
        break;
      case SDL_CONTROLLERDEVICEREMOVED:
        if (controller_ && event.cdevice.which ==
                               SDL_JoystickInstanceID(SDL_GameControllerGetJoystick(controller_.get())))
          controller_.reset();
        break;
      default: break;
    }
  }

  snapshot.time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int key_count = 0;
  const Uint8* keys = SDL_GetKeyboardState(&key_count);
  for (int k = 0; k < std::min(key_count, InputSnapshot::kKeyCount); ++k)
    if (keys[k]) snapshot.keys.set(k);
  // SDL's button mask puts left, middle, right, x1, x2 in bits 0-4, as InputSnapshot does.
  snapshot.mouse_buttons = SDL_GetMouseState(nullptr, nullptr) & 0x1Fu;
  snapshot.mouse_dx = std::exchange(mouse_dx_, 0.f);
  snapshot.mouse_dy = std::exchange(mouse_dy_, 0.f);
  snapshot.wheel = std::exchange(wheel_, 0.f);
  snapshot.focused = focused_;
  if (SDL_GameController* pad = controller_.get()) {
    for (int a = 0; a < InputSnapshot::kAxisCount; ++a) {
      Sint16 value = SDL_GameControllerGetAxis(pad, static_cast<SDL_GameControllerAxis>(a));
      snapshot.gamepad_axes[a] = a < SDL_CONTROLLER_AXIS_TRIGGERLEFT ? stick(value) : trigger(value);
    }
    for (int b = 0; b < SDL_CONTROLLER_BUTTON_MAX && b < 32; ++b)
      if (SDL_GameControllerGetButton(pad, static_cast<SDL_GameControllerButton>(b)))
        snapshot.gamepad_buttons |= 1u << b;
  }
  return snapshot;
}

}  // namespace wl
