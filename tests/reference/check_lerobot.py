"""check_lerobot.py DATASET_DIR [EPISODES]: checks a `worldloop synth` dataset the way LeRobot v2.1
loads one: meta/info.json (codebase_version, chunks_size, path templates, features), tasks.jsonl,
episodes.jsonl and episodes_stats.jsonl; per episode the Parquet file through pyarrow (columns,
types, list widths, row counts, frame_index/episode_index/index/timestamp) and the MP4 through PyAV
(decoded frame count, size, and frame times against the timestamps within LeRobot's 1e-4 s).
Prints one line per episode; exits 1 with the differences. Called by check_lerobot.sh (ctest)."""
import json
import os
import sys

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ["action", "observation.state", "timestamp", "frame_index", "episode_index", "index", "task_index"]
VIDEO_KEY = "observation.images.head"
errors = []


def check(ok, message):
    if not ok:
        errors.append(message)
    return ok


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(root, episodes=None):
    with open(os.path.join(root, "meta", "info.json")) as f:
        info = json.load(f)
    check(info["codebase_version"] == "v2.1", f"codebase_version {info['codebase_version']}")
    check(info["chunks_size"] == 1000, f"chunks_size {info['chunks_size']}")
    check(info["data_path"] == "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet", "data_path")
    check(info["video_path"] == "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4", "video_path")
    features = info["features"]
    check(list(features) == ["action", "observation.state", VIDEO_KEY] + COLUMNS[2:], f"features {list(features)}")
    check(features[VIDEO_KEY]["dtype"] == "video", "video dtype")
    height, width, channels = features[VIDEO_KEY]["shape"]
    fps = info["fps"]
    n = info["total_episodes"]
    if episodes is not None:
        check(n == int(episodes), f"total_episodes {n}, expected {episodes}")
    check(info["splits"] == {"train": f"0:{n}"}, f"splits {info['splits']}")
    tasks = jsonl(os.path.join(root, "meta", "tasks.jsonl"))
    check(len(tasks) == info["total_tasks"] == 1 and tasks[0]["task_index"] == 0, f"tasks {tasks}")
    eps = jsonl(os.path.join(root, "meta", "episodes.jsonl"))
    stats = jsonl(os.path.join(root, "meta", "episodes_stats.jsonl"))
    check([e["episode_index"] for e in eps] == list(range(n)), "episodes.jsonl indices")
    check([s["episode_index"] for s in stats] == list(range(n)), "episodes_stats.jsonl indices")
    check(sum(e["length"] for e in eps) == info["total_frames"], "total_frames")
    index = 0
    for ep, st in zip(eps, stats):
        e, length = ep["episode_index"], ep["length"]
        check(ep["tasks"] == [tasks[0]["task"]], f"episode {e} tasks")
        chunk = e // info["chunks_size"]
        path = os.path.join(root, info["data_path"].format(episode_chunk=chunk, episode_index=e))
        table = pq.read_table(path)
        check(table.column_names == COLUMNS, f"{path}: columns {table.column_names}")
        check(table.num_rows == length, f"{path}: {table.num_rows} rows, episodes.jsonl says {length}")
        for key in ("action", "observation.state"):
            t = table.schema.field(key).type
            check(pa.types.is_list(t) and t.value_type == pa.float32(), f"{path}: {key} is {t}")
            values = np.array(table.column(key).to_pylist(), dtype=np.float32)
            check(values.shape == (length, features[key]["shape"][0]), f"{path}: {key} shape {values.shape}")
            check(len(features[key]["names"]) == features[key]["shape"][0], f"{key} names")
            check(np.allclose(values.min(0), st["stats"][key]["min"]) and np.allclose(values.max(0), st["stats"][key]["max"]),
                  f"{path}: {key} min/max differ from episodes_stats.jsonl")
        check(table.schema.field("timestamp").type == pa.float32(), f"{path}: timestamp type")
        for key in COLUMNS[3:]:
            check(table.schema.field(key).type == pa.int64(), f"{path}: {key} is {table.schema.field(key).type}")
        col = {k: np.array(table.column(k).to_pylist()) for k in COLUMNS[2:]}
        check((col["frame_index"] == np.arange(length)).all(), f"{path}: frame_index")
        check((col["episode_index"] == e).all(), f"{path}: episode_index")
        check((col["index"] == np.arange(index, index + length)).all(), f"{path}: index is not global and contiguous")
        check(np.allclose(col["timestamp"], np.arange(length) / fps, atol=1e-6), f"{path}: timestamp")
        check((col["task_index"] == 0).all(), f"{path}: task_index")
        index += length

        video = os.path.join(root, info["video_path"].format(episode_chunk=chunk, video_key=VIDEO_KEY, episode_index=e))
        times = []
        with av.open(video) as container:
            for frame in container.decode(video=0):
                check(frame.height == height and frame.width == width, f"{video}: frame {frame.width}x{frame.height}")
                times.append(float(frame.time))
        check(len(times) == length, f"{video}: {len(times)} decoded frames, the Parquet file has {length} rows")
        if len(times) == length:
            check(np.abs(np.array(times) - col["timestamp"]).max() < 1e-4, f"{video}: frame times differ from timestamps")
        check(st["stats"][VIDEO_KEY]["count"] == [length] and np.array(st["stats"][VIDEO_KEY]["mean"]).shape == (3, 1, 1),
              f"episode {e}: video stats")
        print(f"episode {e}: {table.num_rows} rows, {len(times)} video frames {width}x{height}")
    if errors:
        print(f"{root}: {len(errors)} problems:", *errors[:20], sep="\n  ")
        return 1
    print(f"{root}: a LeRobot v2.1 dataset of {n} episodes, {info['total_frames']} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
