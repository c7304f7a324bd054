// `worldloop info`: reads only the header and the map (no torch), so it is instant on a 4 GB file.
#include "sim/info.h"

#include <algorithm>
#include <cctype>
#include <iomanip>
#include <map>
#include <sstream>
#include <ostream>

#include "model/safetensors.h"

namespace wl {
namespace {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) v /= 1024.0, ++u;
  std::ostringstream s;
  s << std::fixed << std::setprecision(u == 0 ? 0 : 2) << v << " " << units[u];
  return s.str();
}

std::string grouped(uint64_t n) {   // 2090123456 -> "2,090,123,456"
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// "blocks.2.x" before "blocks.10.x": digit runs compare as numbers.
bool natural_less(const std::string& a, const std::string& b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string_view na(a.data() + i, i2 - i), nb(b.data() + j, j2 - j);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = i2, j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

}  // namespace

void print_info(const InfoOptions& options, std::ostream& out) {
  SafetensorsFile file = SafetensorsFile::open(options.path);
  std::vector<const TensorEntry*> shown;
  uint64_t params = 0, bytes = 0;
  std::map<std::string, std::pair<int, uint64_t>> by_dtype;   // dtype -> (tensors, bytes)
  for (const auto& t : file.tensors()) {
    if (t.name.compare(0, options.prefix.size(), options.prefix) != 0) continue;
    shown.push_back(&t);
    params += static_cast<uint64_t>(t.numel());
    bytes += t.nbytes();
    auto& d = by_dtype[dtype_name(t.dtype)];
    d.first += 1;
    d.second += t.nbytes();
  }
  std::sort(shown.begin(), shown.end(), [](auto* a, auto* b) { return natural_less(a->name, b->name); });

  out << "file       " << file.path() << " (" << human_bytes(file.file_size()) << ")\n";
  if (!options.prefix.empty())
    out << "prefix     " << options.prefix << " (" << shown.size() << " of " << file.tensors().size() << " tensors)\n";
  out << "tensors    " << shown.size() << "\n";
  out << "parameters " << grouped(params) << "\n";
  out << "bytes      " << grouped(bytes) << " (" << human_bytes(bytes) << ")\n";
  out << "dtypes    ";
  for (const auto& [name, d] : by_dtype) out << " " << name << " x" << d.first << " (" << human_bytes(d.second) << ")";
  out << "\n";
  out << "metadata   " << (file.metadata().empty() ? "none" : std::to_string(file.metadata().size()) + " entries") << "\n";
  for (const auto& [key, value] : file.metadata()) {
    std::string v = value.size() > 200 ? value.substr(0, 200) + "... (" + std::to_string(value.size()) + " chars)" : value;
    out << "  " << key << " = " << v << "\n";
  }
  if (shown.empty()) return;

  size_t name_width = 4, shape_width = 5;
  for (auto* t : shown) {
    name_width = std::max(name_width, t->name.size());
    shape_width = std::max(shape_width, shape_string(t->shape).size());
  }
  out << "\n" << std::left << std::setw(name_width) << "name" << "  " << std::setw(7) << "dtype" << std::setw(shape_width)
      << "shape" << "  " << std::right << std::setw(14) << "bytes" << "\n";
  for (auto* t : shown)
    out << std::left << std::setw(name_width) << t->name << "  " << std::setw(7) << dtype_name(t->dtype)
        << std::setw(shape_width) << shape_string(t->shape) << "  " << std::right << std::setw(14) << grouped(t->nbytes())
        << "\n";
}

}  // namespace wl
