// PPM and PNG writers and their checksums (see image_io.h). A PNG here is the signature, an IHDR
// chunk (8-bit RGB, no interlace), one IDAT chunk holding a zlib stream of stored deflate blocks over
// the filtered rows (filter type 0, "None", on every row), and IEND.
#include "envs/image_io.h"

#include <array>
#include <fstream>

#include "kernels/core/error.h"

namespace wl {
namespace {

void check_frame(const Frame& frame, const std::string& path) {
  WL_CHECK(frame.width > 0 && frame.height > 0 &&
               frame.rgb.size() == static_cast<size_t>(frame.width) * frame.height * 3,
           "cannot write ", path, ": a ", frame.width, "x", frame.height, " frame needs ",
           static_cast<size_t>(std::max(frame.width, 0)) * std::max(frame.height, 0) * 3, " RGB bytes, it holds ",
           frame.rgb.size());
}

void write_file(const std::string& path, std::span<const uint8_t> header, std::span<const uint8_t> body) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  WL_CHECK(out, "cannot open ", path, " for writing; hint: does its folder exist?");
  out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
  out.close();
  WL_CHECK(out, "writing ", path, " failed; hint: is the disk full?");
}

void put_u32_be(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// Appends a chunk: length, type, data, CRC over type and data.
void put_chunk(std::vector<uint8_t>& out, const char (&type)[5], std::span<const uint8_t> data) {
  put_u32_be(out, static_cast<uint32_t>(data.size()));
  size_t start = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32_be(out, crc32({out.data() + start, out.size() - start}));
}

}  // namespace

uint32_t crc32(std::span<const uint8_t> bytes, uint32_t crc) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[n] = c;
    }
    return table;
  }();
  crc = ~crc;
  for (uint8_t b : bytes) crc = kTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

uint32_t adler32(std::span<const uint8_t> bytes, uint32_t adler) {
  constexpr uint32_t kMod = 65521;
  uint32_t a = adler & 0xFFFF, b = adler >> 16;
  // 5552 bytes is the most that keeps b under 2^32 before the modulo (zlib's NMAX).
  for (size_t i = 0; i < bytes.size();) {
    size_t end = std::min(bytes.size(), i + 5552);
    for (; i < end; ++i) a += bytes[i], b += a;
    a %= kMod, b %= kMod;
  }
  return b << 16 | a;
}

std::vector<uint8_t> encode_png(const Frame& frame) {
  check_frame(frame, "a PNG");
  const size_t row = static_cast<size_t>(frame.width) * 3;
  std::vector<uint8_t> raw;  // [H, 1 + 3W]: each row's filter byte (0), then its pixels
  raw.reserve(frame.height * (row + 1));
  for (int y = 0; y < frame.height; ++y) {
    raw.push_back(0);
    raw.insert(raw.end(), frame.rgb.begin() + y * row, frame.rgb.begin() + (y + 1) * row);
  }
  // zlib: CMF/FLG (deflate, 32 KiB window, no dictionary, fastest; 0x7801 % 31 == 0), stored
  // blocks of at most 65535 bytes (BFINAL on the last, LEN and its complement little-endian), Adler-32.
  std::vector<uint8_t> z = {0x78, 0x01};
  z.reserve(raw.size() + raw.size() / 65535 * 5 + 16);
  size_t at = 0;
  do {
    size_t n = std::min<size_t>(65535, raw.size() - at);
    bool last = at + n == raw.size();
    z.push_back(last ? 1 : 0);
    z.push_back(static_cast<uint8_t>(n)), z.push_back(static_cast<uint8_t>(n >> 8));
    z.push_back(static_cast<uint8_t>(~n)), z.push_back(static_cast<uint8_t>(~n >> 8));
    z.insert(z.end(), raw.begin() + at, raw.begin() + at + n);
    at += n;
  } while (at < raw.size());
  put_u32_be(z, adler32(raw));

  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  put_u32_be(ihdr, static_cast<uint32_t>(frame.width));
  put_u32_be(ihdr, static_cast<uint32_t>(frame.height));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // bit depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
  put_chunk(png, "IHDR", ihdr);
  put_chunk(png, "IDAT", z);
  put_chunk(png, "IEND", {});
  return png;
}

void write_png(const std::string& path, const Frame& frame) {
  check_frame(frame, path);
  write_file(path, {}, encode_png(frame));
}

void write_ppm(const std::string& path, const Frame& frame) {
  check_frame(frame, path);
  std::string header = "P6\n" + std::to_string(frame.width) + " " + std::to_string(frame.height) + "\n255\n";
  write_file(path, {reinterpret_cast<const uint8_t*>(header.data()), header.size()}, frame.rgb);
}

}  // namespace wl
