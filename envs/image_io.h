// Image files for docs and debugging: one Frame (RGB8 [H, W, 3]) to a binary PPM or to a PNG. The PNG
// writer needs no library: its zlib stream uses stored (uncompressed) deflate blocks, so a file is
// about H * (3W + 1) bytes plus a few dozen per 64 KiB. Also the CRC-32 and Adler-32 checksums
// that PNG and zlib require. Callers: the docs image test (tests/envs/test_image_io.cpp), tools.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "envs/world.h"

namespace wl {

// Throw wl::Error naming the path when the frame is malformed or the file cannot be written.
void write_ppm(const std::string& path, const Frame& frame);
void write_png(const std::string& path, const Frame& frame);
// The bytes of the PNG file write_png writes.
std::vector<uint8_t> encode_png(const Frame& frame);

// CRC-32 (ISO-HDLC, as PNG chunks use it) and Adler-32 (zlib); chain calls by passing the last value.
uint32_t crc32(std::span<const uint8_t> bytes, uint32_t crc = 0);
uint32_t adler32(std::span<const uint8_t> bytes, uint32_t adler = 1);

}  // namespace wl
