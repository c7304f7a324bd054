// The session record's files: JSON lines and session.json out and back in, SessionFiles (the
// writer of one session directory), and the two recorders that follow a live session: the frame
// loop's observer (SessionRecorder) and ground-truth play's (SimulatorRecorder). See session_log.h;
// the format is in docs/sessions.md.
#include "sim/session_log.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>

#include "envs/world.h"
#include "kernels/core/error.h"
#include "kernels/core/log.h"
#include "model/dit_config.h"
#include "model/safetensors.h"
#include "sim/version.h"
#include "sim/view.h"
#include "sim/world_model.h"
#ifdef WL_WITH_RECORDING
#include "render/recorder.h"
#endif

namespace wl {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// The shortest decimal that reads back as the same float (0.3f prints as 0.3).
double short_double(float v) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return ec == std::errc() ? std::strtod(std::string(buffer, end).c_str(), nullptr) : static_cast<double>(v);
}

std::string hex16(uint64_t v) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(v));
  return buffer;
}

uint64_t parse_hex(const Json& j, const std::string& where, const char* key) {
  WL_CHECK(j.is_string(), where, ": '", key, "' should be a 16-digit hex string, found ", j.dump());
  const std::string s = j.get<std::string>();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
  WL_CHECK(ec == std::errc() && end == s.data() + s.size() && !s.empty(), where, ": '", key,
           "' should be a 16-digit hex string, found \"", s, "\"");
  return v;
}

// j[key] as T, or a wl::Error naming the place, the key and what was found.
template <typename T>
T get(const Json& j, const char* key, const std::string& where) {
  WL_CHECK(j.is_object() && j.contains(key), where, ": '", key, "' is missing; hint: is this a worldloop session file?");
  try {
    return j.at(key).get<T>();
  } catch (const std::exception&) {
    WL_FAIL(where, ": '", key, "' has the wrong type (found ", j.at(key).dump(), ")");
  }
}

Json parse_json(std::string_view text, const std::string& where) {
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    WL_FAIL(where, ": not valid JSON (", e.what(), "); hint: the file is damaged or not a worldloop session file");
  }
}

template <size_t N>
Json bits_json(const std::bitset<N>& bits) {
  Json out = Json::array();
  for (size_t i = 0; i < N; ++i)
    if (bits.test(i)) out.push_back(i);
  return out;
}

template <size_t N>
std::bitset<N> bits_from(const Json& j, const char* key, const std::string& where) {
  std::bitset<N> out;
  for (int64_t i : get<std::vector<int64_t>>(j, key, where)) {
    WL_CHECK(i >= 0 && i < static_cast<int64_t>(N), where, ": key code ", i, " in '", key, "' is outside 0..", N - 1);
    out.set(static_cast<size_t>(i));
  }
  return out;
}

Json input_json(const InputSnapshot& in) {
  Json j;
  j["t"] = in.time_s;
  j["keys"] = bits_json(in.keys);
  j["pressed"] = bits_json(in.keys_pressed);
  j["mouse"] = {short_double(in.mouse_dx), short_double(in.mouse_dy)};
  j["buttons"] = in.mouse_buttons;
  j["wheel"] = short_double(in.wheel);
  j["axes"] = Json::array();
  for (float a : in.gamepad_axes) j["axes"].push_back(short_double(a));
  j["pad"] = in.gamepad_buttons;
  j["focused"] = in.focused;
  return j;
}

InputSnapshot input_from(const Json& j, const std::string& where) {
  InputSnapshot in;
  in.time_s = get<double>(j, "t", where);
  in.keys = bits_from<InputSnapshot::kKeyCount>(j, "keys", where);
  in.keys_pressed = bits_from<InputSnapshot::kKeyCount>(j, "pressed", where);
  auto mouse = get<std::vector<float>>(j, "mouse", where);
  WL_CHECK(mouse.size() == 2, where, ": 'mouse' should be [dx, dy]");
  in.mouse_dx = mouse[0], in.mouse_dy = mouse[1];
  in.mouse_buttons = get<uint32_t>(j, "buttons", where);
  in.wheel = get<float>(j, "wheel", where);
  auto axes = get<std::vector<float>>(j, "axes", where);
  WL_CHECK(axes.size() == InputSnapshot::kAxisCount, where, ": 'axes' should hold ", InputSnapshot::kAxisCount, " values");
  std::copy(axes.begin(), axes.end(), in.gamepad_axes.begin());
  in.gamepad_buttons = get<uint32_t>(j, "pad", where);
  in.focused = get<bool>(j, "focused", where);
  return in;
}

bool same_input(const InputSnapshot& a, const InputSnapshot& b) {
  return a.time_s == b.time_s && a.keys == b.keys && a.keys_pressed == b.keys_pressed && a.mouse_dx == b.mouse_dx &&
         a.mouse_dy == b.mouse_dy && a.mouse_buttons == b.mouse_buttons && a.wheel == b.wheel &&
         a.gamepad_axes == b.gamepad_axes && a.gamepad_buttons == b.gamepad_buttons && a.focused == b.focused;
}

template <typename T, typename Parse>
std::vector<T> read_lines(const std::string& path, Parse parse) {
  std::ifstream in(path, std::ios::binary);
  WL_CHECK(in.good(), "cannot open ", path, "; hint: check the path (a session directory holds actions.jsonl, ",
           "blocks.jsonl and session.json)");
  std::vector<T> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n)
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(parse(line, str(path, ":", n)));
  WL_CHECK(!in.bad(), "cannot read ", path);
  return out;
}

}  // namespace

// [SECTION] the lines

bool FrameLine::operator==(const FrameLine& o) const {
  return frame == o.frame && time_s == o.time_s && block == o.block && block_frame == o.block_frame && action == o.action &&
         input.has_value() == o.input.has_value() && (!input || same_input(*input, *o.input)) && fnv1a64 == o.fnv1a64 &&
         row == o.row && side_by_side == o.side_by_side;
}

namespace {

bool same_tensor(const ActionTensor& a, const ActionTensor& b) {
  return a.frames == b.frames && a.dims == b.dims && a.values == b.values;
}

Json rows_json(const ActionTensor& a) {
  Json rows = Json::array();
  for (int t = 0; t < a.frames; ++t) {
    Json row = Json::array();
    for (int d = 0; d < a.dims; ++d) row.push_back(short_double(a.row(t)[d]));
    rows.push_back(std::move(row));
  }
  return rows;
}

// [T, A] from a JSON array of T rows of A finite numbers.
ActionTensor tensor_from(const Json& j, const char* key, const std::string& where) {
  std::vector<std::vector<float>> rows;
  try {
    rows = j.get<std::vector<std::vector<float>>>();
  } catch (const std::exception&) {
    WL_FAIL(where, ": '", key, "' should be [T, A] rows of numbers, found ", j.dump().substr(0, 80));
  }
  WL_CHECK(!rows.empty() && rows.size() <= 64, where, ": '", key, "' should hold 1..64 rows [T, A], found ", rows.size());
  ActionTensor out;
  out.frames = static_cast<int>(rows.size());
  out.dims = static_cast<int>(rows.front().size());
  for (const auto& row : rows) {
    WL_CHECK(static_cast<int>(row.size()) == out.dims, where, ": the rows of '", key, "' differ in width");
    for (float v : row) WL_CHECK(std::isfinite(v), where, ": '", key, "' holds a non-finite value");
    out.values.insert(out.values.end(), row.begin(), row.end());
  }
  return out;
}

}  // namespace

bool BlockLine::operator==(const BlockLine& o) const {
  return block == o.block && epoch == o.epoch && first_latent_frame == o.first_latent_frame &&
         first_video_frame == o.first_video_frame && same_tensor(actions, o.actions) && seed == o.seed &&
         noise_counter == o.noise_counter && denoise_steps == o.denoise_steps && state_policy == o.state_policy &&
         rows.size() == o.rows.size() && std::equal(rows.begin(), rows.end(), o.rows.begin(), same_tensor) &&
         row_seeds == o.row_seeds && continued_from == o.continued_from;
}

std::string frame_line_json(const ActionSpec& spec, const FrameLine& line) {
  WL_CHECK(static_cast<int>(line.action.size()) == spec.width(), "frame ", line.frame, ": an action of ", line.action.size(),
           " values for the ", spec.width(), "-D ", spec.world, " action space");
  Json j;
  j["frame"] = line.frame;
  j["time"] = line.time_s;
  if (line.block >= 0) {   // a ground-truth session has no blocks
    j["block"] = line.block;
    j["block_frame"] = line.block_frame;
  }
  if (line.row != 0) j["row"] = line.row;
  if (line.side_by_side) j["fidelity"] = true;
  Json action = Json::object();
  for (int a = 0; a < spec.width(); ++a) action[spec.dims[a].name] = short_double(line.action[a]);
  j["action"] = std::move(action);
  if (line.input) j["input"] = input_json(*line.input);
  j["fnv1a64"] = hex16(line.fnv1a64);
  return j.dump();
}

FrameLine parse_frame_line(const ActionSpec& spec, std::string_view text, const std::string& where) {
  Json j = parse_json(text, where);
  FrameLine line;
  line.frame = get<int64_t>(j, "frame", where);
  line.time_s = get<double>(j, "time", where);
  line.block = j.contains("block") ? get<int64_t>(j, "block", where) : -1;
  line.block_frame = j.contains("block_frame") ? get<int64_t>(j, "block_frame", where) : -1;
  WL_CHECK(j.contains("action") && j["action"].is_object(), where, ": 'action' should be an object of the ", spec.world,
           " action fields");
  const Json& action = j["action"];
  for (const ActionDim& d : spec.dims) {
    WL_CHECK(action.contains(d.name), where, ": action field '", d.name, "' of the ", spec.world,
             " world is missing; hint: was this file recorded in another world?");
    float v = get<float>(action, d.name.c_str(), where);
    WL_CHECK(std::isfinite(v) && v >= d.min && v <= d.max, where, ": action '", d.name, "' is ", v, ", outside [", d.min, ", ",
             d.max, "]");
    line.action.push_back(v);
  }
  WL_CHECK(static_cast<int>(action.size()) == spec.width(), where, ": 'action' has ", action.size(), " fields, the ",
           spec.world, " world ", spec.width(), "; hint: was this file recorded in another world?");
  if (j.contains("input")) line.input = input_from(j["input"], where);
  line.fnv1a64 = j.contains("fnv1a64") ? parse_hex(j["fnv1a64"], where, "fnv1a64") : 0;
  line.row = j.contains("row") ? get<int>(j, "row", where) : 0;
  WL_CHECK(line.row >= -1 && line.row < 64, where, ": 'row' is ", line.row, ", expected -1 (the grid) or a batch row 0..63");
  line.side_by_side = j.contains("fidelity") && get<bool>(j, "fidelity", where);
  return line;
}

std::string block_line_json(const BlockLine& b) {
  Json j;
  j["block"] = b.block;
  j["epoch"] = b.epoch;
  j["first_latent_frame"] = b.first_latent_frame;
  j["first_video_frame"] = b.first_video_frame;
  j["seed"] = b.seed;
  j["noise_counter"] = b.noise_counter;
  j["denoise_steps"] = b.denoise_steps;
  j["state_policy"] = b.state_policy;
  j["actions"] = rows_json(b.actions);
  if (!b.rows.empty()) {
    j["rows"] = Json::array();
    for (const ActionTensor& r : b.rows) j["rows"].push_back(rows_json(r));
    j["row_seeds"] = b.row_seeds;
  }
  if (b.continued_from >= 0) j["continued_from"] = b.continued_from;
  return j.dump();
}

BlockLine parse_block_line(std::string_view text, const std::string& where) {
  Json j = parse_json(text, where);
  BlockLine b;
  b.block = get<int64_t>(j, "block", where);
  b.epoch = get<int64_t>(j, "epoch", where);
  b.first_latent_frame = get<int64_t>(j, "first_latent_frame", where);
  b.first_video_frame = get<int64_t>(j, "first_video_frame", where);
  b.seed = get<uint64_t>(j, "seed", where);
  b.noise_counter = get<uint64_t>(j, "noise_counter", where);
  b.denoise_steps = get<int>(j, "denoise_steps", where);
  WL_CHECK(b.denoise_steps >= 1 && b.denoise_steps <= 50, where, ": denoise_steps ", b.denoise_steps, " is outside 1..50");
  b.state_policy = get<std::string>(j, "state_policy", where);
  WL_CHECK(j.contains("actions"), where, ": 'actions' is missing; hint: is this a worldloop session file?");
  b.actions = tensor_from(j["actions"], "actions", where);
  if (j.contains("rows")) {
    WL_CHECK(j["rows"].is_array() && j["rows"].size() >= 2 && j["rows"].size() <= 64, where,
             ": 'rows' should hold 2..64 branches' [T, A] actions");
    for (const Json& r : j["rows"]) {
      b.rows.push_back(tensor_from(r, "rows", where));
      WL_CHECK(b.rows.back().frames == b.actions.frames && b.rows.back().dims == b.actions.dims, where,
               ": a branch in 'rows' is [", b.rows.back().frames, ", ", b.rows.back().dims, "], 'actions' is [",
               b.actions.frames, ", ", b.actions.dims, "]");
    }
    b.row_seeds = get<std::vector<uint64_t>>(j, "row_seeds", where);
    WL_CHECK(b.row_seeds.size() == b.rows.size(), where, ": ", b.rows.size(), " branches in 'rows' but ", b.row_seeds.size(),
             " seeds in 'row_seeds'");
  }
  b.continued_from = j.contains("continued_from") ? get<int>(j, "continued_from", where) : -1;
  WL_CHECK(b.continued_from >= -1 && b.continued_from < 64, where, ": 'continued_from' is ", b.continued_from,
           ", expected a batch row 0..63");
  return b;
}

std::vector<FrameLine> read_frame_lines(const std::string& path, const ActionSpec& spec) {
  return read_lines<FrameLine>(path, [&](const std::string& l, const std::string& w) { return parse_frame_line(spec, l, w); });
}

std::vector<BlockLine> read_block_lines(const std::string& path) {
  return read_lines<BlockLine>(path, [](const std::string& l, const std::string& w) { return parse_block_line(l, w); });
}

// [SECTION] session.json

SessionHeader make_session_header(const WorldModel& model, const ModelSource& source, const std::string& device,
                                  uint64_t seed, const std::string& player, const std::string& kind) {
  SessionHeader h;
  h.engine = str("worldloop ", kVersion, " (commit ", kGitCommit, ", ", kBuildFlavour, ")");
  h.kind = kind;
  h.model_hash = model.hash_hex();
  h.model_label = model.info().label;
  h.model_config = config_to_json(model.dit().config());
  h.model_source = source;
  h.device = device;
  h.world = model.info().world;
  h.fps = model.info().fps;
  h.width = 8 * model.info().latent_w;
  h.height = 8 * model.info().latent_h;
  h.seed = seed;
  h.player = player;
  return h;
}

SessionHeader make_ground_truth_header(const std::string& world, int size, double fps, uint64_t seed, const std::string& player) {
  SessionHeader h;
  h.engine = str("worldloop ", kVersion, " (commit ", kGitCommit, ", ", kBuildFlavour, ")");
  h.kind = "ground_truth";
  h.model_label = str("the ", world, " simulator (ground truth)");
  h.model_source = {"simulator", "", world, 0, 0};
  h.world = world;
  h.fps = fps;
  h.width = size;
  h.height = size;
  h.seed = seed;
  h.player = player;
  return h;
}

std::unique_ptr<WorldModel> load_model(const ModelSource& source, const std::string& device) {
  WL_CHECK(source.kind != "simulator", "model source kind 'simulator': a ground-truth session has no model (the ", source.world,
           " simulator made its frames)");
  WorldModelOptions options{device, device != "cpu"};
  if (source.kind == "random_tiny") return WorldModel::random_tiny(source.world, source.seed, options, source.latent_size);
  WL_CHECK(source.kind == "dir", "model source kind '", source.kind, "' is unknown (expected random_tiny or dir)");
  return WorldModel::load(source.dir, options);
}

std::string session_json(const SessionHeader& h) {
  Json j;
  j["format"] = kSessionFormat;
  j["version"] = kSessionVersion;
  j["engine"] = h.engine;
  j["kind"] = h.kind;
  j["model"] = {{"hash", h.model_hash},
                {"label", h.model_label},
                {"source",
                 {{"kind", h.model_source.kind},
                  {"dir", h.model_source.dir},
                  {"world", h.model_source.world},
                  {"seed", h.model_source.seed},
                  {"latent_size", h.model_source.latent_size}}},
                {"config", h.model_config.empty() ? Json::object() : Json::parse(h.model_config)}};
  j["device"] = h.device;
  j["world"] = h.world;
  j["fps"] = h.fps;
  j["width"] = h.width;
  j["height"] = h.height;
  j["seed"] = h.seed;
  j["player"] = h.player;
  j["settings"] = Json::array();
  for (const SettingsChange& s : h.settings)
    j["settings"].push_back({{"block", s.block},
                             {"denoise_steps", s.denoise_steps},
                             {"seed", s.seed},
                             {"block_frames", s.block_frames},
                             {"state_policy", s.state_policy}});
  j["events"] = Json::array();
  for (const SessionEvent& e : h.events)
    j["events"].push_back({{"frame", e.frame},
                           {"time", e.time_s},
                           {"kind", e.kind},
                           {"name", e.name},
                           {"ok", e.ok},
                           {"message", e.message},
                           {"epoch", e.epoch}});
  j["epochs"] = Json::array();
  for (const EpochOrigin& e : h.epochs) {
    Json origin = {{"epoch", e.epoch}, {"origin", e.origin}, {"file", e.file}};
    if (e.origin == "simulator") {
      origin["seed"] = e.seed;
      origin["preroll"] = e.preroll;
    }
    if (e.origin == "simulator_context") {
      origin["seed"] = e.seed;
      origin["context_frames"] = e.context_frames;
    }
    j["epochs"].push_back(std::move(origin));
  }
  j["frames"] = h.frames;
  j["blocks"] = h.blocks;
  j["frames_fnv1a64"] = hex16(h.frames_fnv1a64);
  j["complete"] = h.complete;
  return j.dump(2) + "\n";
}

SessionHeader parse_session_json(const std::string& text, const std::string& where) {
  Json j = parse_json(text, where);
  WL_CHECK(j.is_object() && j.value("format", "") == kSessionFormat, where, ": not a worldloop session (format ",
           j.is_object() && j.contains("format") ? j["format"].dump() : "missing", ", expected \"", kSessionFormat, "\")");
  WL_CHECK(get<int>(j, "version", where) == kSessionVersion, where, ": session format version ", j["version"].dump(),
           "; this build reads version ", kSessionVersion);
  SessionHeader h;
  h.engine = get<std::string>(j, "engine", where);
  h.kind = get<std::string>(j, "kind", where);
  const Json& m = j.at("model");
  h.model_hash = get<std::string>(m, "hash", where);
  h.model_label = get<std::string>(m, "label", where);
  if (m.contains("config") && !m["config"].empty()) h.model_config = m["config"].dump();
  const Json& s = m.at("source");
  h.model_source = {get<std::string>(s, "kind", where), get<std::string>(s, "dir", where), get<std::string>(s, "world", where),
                    get<uint64_t>(s, "seed", where), get<int>(s, "latent_size", where)};
  h.device = get<std::string>(j, "device", where);
  h.world = get<std::string>(j, "world", where);
  h.fps = get<double>(j, "fps", where);
  h.width = get<int>(j, "width", where);
  h.height = get<int>(j, "height", where);
  h.seed = get<uint64_t>(j, "seed", where);
  h.player = get<std::string>(j, "player", where);
  for (const Json& c : get<Json>(j, "settings", where))
    h.settings.push_back({get<int64_t>(c, "block", where), get<int>(c, "denoise_steps", where), get<uint64_t>(c, "seed", where),
                          get<int>(c, "block_frames", where), get<std::string>(c, "state_policy", where)});
  for (const Json& e : get<Json>(j, "events", where))
    h.events.push_back({get<int64_t>(e, "frame", where), get<double>(e, "time", where), get<std::string>(e, "kind", where),
                        get<std::string>(e, "name", where), get<bool>(e, "ok", where), get<std::string>(e, "message", where),
                        get<int64_t>(e, "epoch", where)});
  for (const Json& e : get<Json>(j, "epochs", where)) {
    h.epochs.push_back({get<int64_t>(e, "epoch", where), get<std::string>(e, "origin", where), get<std::string>(e, "file", where)});
    if (h.epochs.back().origin == "simulator") {
      h.epochs.back().seed = get<uint64_t>(e, "seed", where);
      h.epochs.back().preroll = get<int64_t>(e, "preroll", where);
      WL_CHECK(h.epochs.back().preroll >= 0, where, ": epoch ", h.epochs.back().epoch, " has a negative 'preroll'");
    }
    if (h.epochs.back().origin == "simulator_context" && e.contains("context_frames")) {   // absent before replay regenerated it
      h.epochs.back().seed = get<uint64_t>(e, "seed", where);
      h.epochs.back().context_frames = get<int64_t>(e, "context_frames", where);
      WL_CHECK(h.epochs.back().context_frames >= 1 && h.epochs.back().context_frames <= 1024, where, ": epoch ",
               h.epochs.back().epoch, " has 'context_frames' ", h.epochs.back().context_frames, ", expected 1..1024");
    }
  }
  h.frames = get<int64_t>(j, "frames", where);
  h.blocks = get<int64_t>(j, "blocks", where);
  h.frames_fnv1a64 = parse_hex(j.at("frames_fnv1a64"), where, "frames_fnv1a64");
  h.complete = get<bool>(j, "complete", where);
  return h;
}

SessionHeader read_session_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  WL_CHECK(in.good(), "cannot open ", path, "; hint: name a directory written by `play --record DIR` or `rollout`");
  return parse_session_json(std::string(std::istreambuf_iterator<char>(in), {}), path);
}

void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    WL_CHECK(!out.fail(), "cannot write ", tmp, "; hint: is the disk full or the directory read-only?");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  WL_CHECK(!ec, "cannot rename ", tmp, " to ", path, ": ", ec.message());
}

// [SECTION] writing a session directory

void claim_new_dir(const std::string& dir, const std::string& flag) {
  WL_CHECK(!dir.empty(), flag, " needs a directory name");
  WL_CHECK(fs::path(dir).extension() != ".mp4", flag, " ", dir, " names a session directory (video.mp4, actions.jsonl and ",
           "session.json go inside it), not an MP4; hint: ", flag, " ", fs::path(dir).replace_extension().string());
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    WL_CHECK(fs::is_directory(dir) && fs::is_empty(dir), flag, " ", dir, " already exists",
             fs::is_directory(dir) ? " and is not empty" : " (a file)",
             "; a session is never overwritten; hint: name a new directory or delete that one");
    return;
  }
  fs::create_directories(dir, ec);
  WL_CHECK(!ec, "cannot create ", flag, " ", dir, ": ", ec.message());
}

std::string next_session_dir(const std::string& base, int& count) {
  std::string stem = base;
  if (stem.empty()) {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "session_%Y%m%d_%H%M%S", std::localtime(&now));
    stem = buffer;
  }
  if (count++ == 0 && (!base.empty() || !fs::exists(stem))) return stem;   // --record DIR: claim_new_dir checks it
  std::string dir = str(stem, "_", count);
  while (fs::exists(dir)) dir = str(stem, "_", ++count);
  return dir;
}

bool session_video() {
#ifdef WL_WITH_RECORDING
  return true;
#else
  // Said once per process: the logs are what replay needs, the video is for people.
  static bool said = [] {
    WL_LOG_WARN("record", "no video.mp4 is written: this build has no recording (FFmpeg; -DWL_RECORDING=OFF); the session's ",
                "logs are, and `worldloop replay DIR --out video.mp4` on a build with recording makes the video from them");
    return true;
  }();
  (void)said;
  return false;
#endif
}

uint64_t frame_fnv1a64(const FrameTarget& f) {
  uint64_t hash = kFnvOffset;
  for (int y = 0; y < f.height; ++y) hash = fnv1a({f.pixels + y * f.row_pitch, static_cast<size_t>(f.width) * 4}, hash);
  return hash;
}

SessionFiles::SessionFiles(const std::string& dir, const ActionSpec& spec, int width, int height, double fps, bool video,
                           bool offline, bool blocks)
    : dir_(dir), spec_(spec), hash_(kFnvOffset) {
  const std::string actions = (fs::path(dir) / "actions.jsonl").string(), blocks_path = (fs::path(dir) / "blocks.jsonl").string();
  actions_.open(actions, std::ios::binary | std::ios::trunc);
  WL_CHECK(actions_.good(), "cannot create ", actions, "; hint: is the directory writable?");
  if (blocks) {
    blocks_.open(blocks_path, std::ios::binary | std::ios::trunc);
    WL_CHECK(blocks_.good(), "cannot create ", blocks_path, "; hint: is the directory writable?");
  }
  if (!video) return;
#ifdef WL_WITH_RECORDING
  RecorderInfo info{.path = (fs::path(dir) / "video.mp4").string(), .width = width, .height = height};
  info.fps = std::abs(fps - std::round(fps)) < 1e-9 ? FrameRate{static_cast<int>(std::round(fps)), 1}
                                                    : FrameRate{static_cast<int>(std::round(fps * 1000)), 1000};
  info.block_when_full = offline;   // offline writers wait for the encoder; the real-time loop never does
  recorder_ = std::make_shared<Recorder>(info);
#else
  (void)width, (void)height, (void)fps, (void)offline;
  WL_FAIL("this build has no recording (FFmpeg), so ", dir, "/video.mp4 cannot be written; hint: rebuild with "
          "-DWL_RECORDING=ON");
#endif
}

SessionFiles::~SessionFiles() = default;

void SessionFiles::frame(const FrameLine& line, const FrameTarget& pixels) {
  for (int y = 0; y < pixels.height; ++y)
    hash_ = fnv1a({pixels.pixels + y * pixels.row_pitch, static_cast<size_t>(pixels.width) * 4}, hash_);
  actions_ << frame_line_json(spec_, line) << '\n';
  actions_.flush();   // a killed session keeps every line written
#ifdef WL_WITH_RECORDING
  if (recorder_) recorder_->push(pixels, line.frame);
#endif
  ++frames_;
}

void SessionFiles::block(const BlockLine& line) {
  WL_CHECK(blocks_.is_open(), "SessionFiles::block: ", dir_, " was opened without blocks.jsonl (a bug)");
  blocks_ << block_line_json(line) << '\n';
  blocks_.flush();
}

int64_t SessionFiles::dropped() const {
#ifdef WL_WITH_RECORDING
  if (recorder_) return recorder_->stats().frames_dropped;
#endif
  return 0;
}

std::string SessionFiles::finish() {
  std::string video = "no video";
  actions_.close();
  if (blocks_.is_open()) blocks_.close();
  WL_CHECK(!actions_.fail() && !blocks_.fail(), "cannot write the session logs in ", dir_, "; hint: is the disk full?");
#ifdef WL_WITH_RECORDING
  if (recorder_) {
    recorder_->stop();
    RecorderStats s = recorder_->stats();
    video = str(s.frames_written, " frames (", s.encoder, s.frames_dropped ? str(", ", s.frames_dropped, " dropped") : "", ")");
    recorder_.reset();
  }
#endif
  return video;
}

// [SECTION] SessionRecorder

namespace {

std::string snapshot_checksum(const std::string& path) {
  auto file = SafetensorsFile::open(path);
  auto it = file.metadata().find("checksum");
  return it == file.metadata().end() ? std::string() : it->second;
}

}  // namespace

SessionRecorder::SessionRecorder(const WorldModel& model, SessionHeader header, bool offline)
    : model_(model), header_(std::move(header)), offline_(offline) {}

SessionRecorder::~SessionRecorder() {
  try {
    stop();
  } catch (const std::exception& e) {
    WL_LOG_WARN("record", "stopping the recording failed: ", e.what());
  }
}

EpochOrigin SessionRecorder::epoch_origin(int64_t epoch, const std::string& file) const {
  if (!file.empty()) return {epoch, "snapshot", file};
  if (context_frames_ == 0) return {epoch, "fresh", ""};
  EpochOrigin o{epoch, "simulator_context", ""};
  o.seed = context_seed_;
  o.context_frames = context_frames_;
  return o;
}

std::string SessionRecorder::copy_origin() {
  if (origin_path_.empty()) return "";
  std::string found;
  try {
    found = snapshot_checksum(origin_path_);
  } catch (const std::exception& e) {
    WL_FAIL("cannot record: this session began by loading ", origin_path_, ", which cannot be read now (", e.what(),
            "); hint: load a snapshot or reset, then start recording");
  }
  WL_CHECK(found == origin_checksum_, "cannot record: this session began by loading ", origin_path_,
           ", which was overwritten since, so a replay could not start from it; hint: load it again (or reset), then ",
           "start recording");
  fs::create_directories(fs::path(dir_) / "snapshots");
  std::string file = str("snapshots/epoch_", epoch_, ".wlsnap");
  fs::copy_file(origin_path_, fs::path(dir_) / file, fs::copy_options::overwrite_existing);
  return file;
}

void SessionRecorder::start(const std::string& dir) {
  if (files_) return;
  claim_new_dir(dir, "--record");
  dir_ = dir;
  try {
    header_.epochs.clear();
    header_.events.clear();
    header_.settings.clear();
    std::string file = copy_origin();
    header_.epochs.push_back(epoch_origin(epoch_, file));
    if (!epoch_blocks_.empty()) {
      const BlockLine& b = epoch_blocks_.front();
      header_.settings.push_back({b.block, b.denoise_steps, b.seed, b.actions.frames, b.state_policy});
    }
    files_ = std::make_unique<SessionFiles>(dir, model_.action_spec(), header_.width, header_.height, header_.fps,
                                            session_video(), offline_);
    for (size_t i = 0; i < epoch_blocks_.size(); ++i) {
      const BlockLine& b = epoch_blocks_[i];
      SettingsChange c{b.block, b.denoise_steps, b.seed, b.actions.frames, b.state_policy};
      if (i > 0 && (c.denoise_steps != header_.settings.back().denoise_steps || c.seed != header_.settings.back().seed ||
                    c.block_frames != header_.settings.back().block_frames ||
                    c.state_policy != header_.settings.back().state_policy))
        header_.settings.push_back(c);
      files_->block(b);
    }
    header_.blocks = static_cast<int64_t>(epoch_blocks_.size());
    header_.events.push_back({frames_seen_, last_time_, "record_start", "", true, str("recording into ", dir), epoch_});
    header_.complete = false;
    write_header();
  } catch (...) {
    files_.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);   // it was new or empty: nothing of anyone else's is removed
    throw;
  }
  WL_LOG_INFO("record", "recording into ", dir);
}

std::string SessionRecorder::stop() {
  if (!files_) return "";
  header_.events.push_back({frames_seen_, last_time_, "record_stop", "", true, "", epoch_});
  std::unique_ptr<SessionFiles> files = std::move(files_);   // stopped even if finishing throws (session.json: incomplete)
  std::string video = files->finish();
  header_.frames = files->frames();
  header_.frames_fnv1a64 = files->hash();
  header_.complete = true;
  write_header();
  return str("wrote ", dir_, ": ", session_video() ? "video.mp4 " + video + ", " : "", "actions.jsonl, blocks.jsonl, session.json",
             session_video() ? "" : " (no video.mp4: this build has no recording)");
}

void SessionRecorder::write_header() {
  if (files_) {
    header_.frames = files_->frames();
    header_.frames_fnv1a64 = files_->hash();
  }
  write_file_atomic((fs::path(dir_) / "session.json").string(), session_json(header_));
}

void SessionRecorder::block_started(const BlockStarted& b) {
  if (b.epoch != epoch_) {   // the event that replaced the session came first and set the origin
    epoch_ = b.epoch;
    epoch_blocks_.clear();
  }
  BlockLine line{b.index, b.epoch, b.first_latent_frame, b.first_video_frame, *b.actions, b.seed, b.noise_counter,
                 b.denoise_steps, b.state_policy};
  if (b.rows) {
    line.rows = *b.rows;
    line.row_seeds = b.row_seeds;
  }
  line.continued_from = b.continued_from;
  SettingsChange now{b.index, b.denoise_steps, b.seed, b.actions->frames, b.state_policy};
  bool changed = !settings_ || now.denoise_steps != settings_->denoise_steps || now.seed != settings_->seed ||
                 now.block_frames != settings_->block_frames || now.state_policy != settings_->state_policy;
  settings_ = now;
  epoch_blocks_.push_back(line);
  if (!files_) return;
  files_->block(line);
  ++header_.blocks;
  if (changed) {
    header_.settings.push_back(now);
    write_header();
  }
}

void SessionRecorder::frame_shown(const FrameShown& f) {
  frames_seen_ = f.index + 1;
  last_time_ = f.time_s;
  if (!files_) return;
  // A seeded context's frame is block_frame -1 of the block it was shown before.
  FrameLine line{f.index, f.time_s, f.block, f.context ? -1 : f.block_frame, *f.action, *f.input, frame_fnv1a64(*f.pixels), f.row,
                 f.side_by_side};
  files_->frame(line, *f.pixels);
}

RecordStatus SessionRecorder::status() const {
  RecordStatus s;
  s.active = files_ != nullptr;
  if (!files_) return s;
  s.frames = files_->frames();
  s.seconds = static_cast<double>(s.frames) / header_.fps;
  s.dropped = files_->dropped();
  s.target = dir_;
  return s;
}

void SessionRecorder::event(const LoopEvent& e) {
  if (e.ok && (e.kind == "load" || e.kind == "reset")) {
    origin_path_ = e.kind == "load" ? e.path : "";
    const bool seeded = e.kind == "reset" && e.name == "simulator";   // FrameLoop::reset_from_simulator
    context_frames_ = seeded ? e.context_frames : 0;
    context_seed_ = seeded ? e.seed : 0;
    try {
      origin_checksum_ = e.kind == "load" ? snapshot_checksum(e.path) : "";
    } catch (const std::exception&) {
      origin_checksum_ = "unreadable";   // start()/copy_origin() refuses with the reason
    }
  }
  if (!files_) return;
  header_.events.push_back({frames_seen_, last_time_, e.kind, e.name, e.ok, e.message, e.epoch});
  if (e.ok && (e.kind == "load" || e.kind == "reset")) {
    epoch_ = e.epoch;
    epoch_blocks_.clear();
    try {
      std::string file = copy_origin();
      header_.epochs.push_back(epoch_origin(e.epoch, file));
    } catch (const std::exception& error) {   // the loop goes on; replay will refuse this epoch with the reason
      header_.epochs.push_back({e.epoch, "unavailable", error.what()});
    }
  }
  write_header();
}

// [SECTION] SimulatorRecorder

SimulatorRecorder::SimulatorRecorder(SessionHeader header, const ActionSpec& spec, bool offline)
    : header_(std::move(header)), spec_(spec), offline_(offline),
      rgba_(static_cast<size_t>(header_.width) * header_.height * 4, 255) {}

SimulatorRecorder::~SimulatorRecorder() {
  try {
    stop();
  } catch (const std::exception& e) {
    WL_LOG_WARN("record", "stopping the recording failed: ", e.what());
  }
}

void SimulatorRecorder::reset(uint64_t seed, const Frame& first, double time_s) {
  if (files_) flush(last_action_, nullptr);   // the frame before the reset: no step was taken from it
  ++epoch_;
  seed_ = seed;
  steps_.clear();
  show(first, time_s);
  if (!files_) return;
  header_.events.push_back({files_->frames(), time_s, "reset", "", true, str("reset: seed ", seed), epoch_});
  header_.epochs.push_back({epoch_, "simulator", "", seed, 0});
  write_header();
  pending_ = true;
}

void SimulatorRecorder::step(const std::vector<float>& action, const InputSnapshot* input, const Frame& next, double time_s) {
  last_action_ = action;
  steps_.push_back(action);
  if (files_) flush(action, input);
  show(next, time_s);
  pending_ = files_ != nullptr;
}

void SimulatorRecorder::start(const std::string& dir) {
  if (files_) return;
  WL_CHECK(epoch_ >= 0, "SimulatorRecorder::start before the first reset (a bug)");
  claim_new_dir(dir, "--record");
  dir_ = dir;
  try {
    const int64_t preroll = static_cast<int64_t>(steps_.size());
    header_.events.clear();
    header_.epochs = {{epoch_, "simulator", preroll > 0 ? "preroll.jsonl" : "", seed_, preroll}};
    if (preroll > 0) {   // the actions since the reset: replay steps through them to the frame on screen
      std::string text;
      for (int64_t i = 0; i < preroll; ++i)
        text += frame_line_json(spec_, FrameLine{i, static_cast<double>(i) / header_.fps, -1, -1, steps_[i]}) + "\n";
      write_file_atomic((fs::path(dir) / "preroll.jsonl").string(), text);
    }
    files_ = std::make_unique<SessionFiles>(dir, spec_, header_.width, header_.height, header_.fps, session_video(), offline_,
                                            false);
    header_.events.push_back({0, time_s_, "record_start", "", true, str("recording into ", dir), epoch_});
    header_.complete = false;
    write_header();
  } catch (...) {
    files_.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);   // it was new or empty: nothing of anyone else's is removed
    throw;
  }
  pending_ = true;
  WL_LOG_INFO("record", "recording into ", dir);
}

std::string SimulatorRecorder::stop(const std::vector<float>* action) {
  if (!files_) return "";
  flush(action ? *action : last_action_, nullptr);
  header_.events.push_back({files_->frames(), time_s_, "record_stop", "", true, "", epoch_});
  std::unique_ptr<SessionFiles> files = std::move(files_);   // stopped even if finishing throws
  std::string video = files->finish();
  header_.frames = files->frames();
  header_.frames_fnv1a64 = files->hash();
  header_.complete = true;
  write_header();
  return str("wrote ", dir_, ": ", session_video() ? "video.mp4 " + video + ", " : "", "actions.jsonl, session.json",
             session_video() ? "" : " (no video.mp4: this build has no recording)");
}

RecordStatus SimulatorRecorder::status() const {
  RecordStatus s;
  if (!files_) return s;
  s.active = true;
  s.frames = files_->frames();
  s.seconds = static_cast<double>(s.frames) / header_.fps;
  s.dropped = files_->dropped();
  s.target = dir_;
  return s;
}

void SimulatorRecorder::show(const Frame& frame, double time_s) {
  WL_CHECK(frame.width == header_.width && frame.height == header_.height, "SimulatorRecorder: a ", frame.width, "x",
           frame.height, " frame for a ", header_.width, "x", header_.height, " session (a bug)");
  write_rgb_to_target(frame.rgb, target());   // as replay converts them: alpha 255
  time_s_ = time_s;
}

// The frame shown, with the action taken at it, into the session files.
void SimulatorRecorder::flush(const std::vector<float>& action, const InputSnapshot* input) {
  if (!pending_) return;
  pending_ = false;
  FrameLine line{files_->frames(), time_s_, -1, -1, action.empty() ? std::vector<float>(spec_.width(), 0.f) : action,
                 input ? std::optional<InputSnapshot>(*input) : std::nullopt, frame_fnv1a64(target())};
  files_->frame(line, target());
}

void SimulatorRecorder::write_header() {
  if (files_) {
    header_.frames = files_->frames();
    header_.frames_fnv1a64 = files_->hash();
  }
  write_file_atomic((fs::path(dir_) / "session.json").string(), session_json(header_));
}

FrameTarget SimulatorRecorder::target() {
  return FrameTarget{rgba_.data(), header_.width, header_.height, 4LL * header_.width, false};
}

}  // namespace wl
