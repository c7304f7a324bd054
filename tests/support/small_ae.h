// The small autoencoder config the sim tests train and evaluate with (32x32 frames -> 4x4x4
// latents): a few thousand parameters, so a CPU step takes milliseconds.
// Callers: tests/sim/test_train.cpp, tests/sim/test_eval.cpp.
#pragma once

#include "model/autoencoder.h"

namespace wl::test {

inline AEConfig small_ae() {
  AEConfig c;
  c.latent_channels = 4;
  c.encoder_widths = {8, 12, 16};
  c.encoder_blocks = {0, 1, 1};
  c.decoder_widths = {16, 12, 8};
  c.decoder_blocks = {1, 1, 0};
  return c;
}

}  // namespace wl::test
