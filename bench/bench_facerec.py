"""Benchmark facerec: cold model load, per-frame latency (640x480, one core) and the share of classification and
the impostor cohort in it, enrolment time per person.

Run: .venv/bin/python bench/bench_facerec.py [--model fixtures/model] [--repeat 5]
Prints medians next to the targets of issue 3. Wall time suffers from other load on a shared machine;
the thread CPU time is the single-core cost.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, set before numpy/cv2/torch load

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLD_LOAD = """
import time; start = time.perf_counter()
import facerec
model = facerec.load_model({model!r})
loaded = time.perf_counter()
from facerec.detectors import get_detector
from facerec.embedding import _resnet, _shape_predictor
import numpy as np
get_detector(model.config.detector).detect(np.zeros((64, 64, 3), np.uint8), model.config.min_face_px)
_resnet(); _shape_predictor()
print(loaded - start, time.perf_counter() - start)
"""


def main() -> int:
    """Run the three benchmarks and print a summary table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "fixtures" / "model")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = [*bench_cold_load(args.model, args.repeat), *bench_frame(args.model), bench_enrolment()]
    from rich.console import Console
    from rich.table import Table

    table = Table("measure (median)", "value", "target", "ok", title="facerec benchmark (1 thread)")
    for name, value, unit, target in rows:
        ok = "-" if target is None else ("yes" if value <= target else "NO")
        table.add_row(name, f"{value:.3f} {unit}", "-" if target is None else f"<= {target} {unit}", ok)
    Console().print(table)
    print(json.dumps({name: round(value, 4) for name, value, _, _ in rows}))
    return 0


def _python(code: str) -> tuple[list[float], float]:
    """Run code in a fresh interpreter: the floats it prints, and the child's CPU seconds (whole process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return [float(x) for x in result.stdout.split()], cpu


def bench_cold_load(model: Path, repeat: int) -> list[tuple]:
    """Fresh interpreter each time: imports + load_model, then + detector and dlib weights."""
    runs = [_python(COLD_LOAD.format(model=str(model))) for _ in range(repeat)]
    return [
        ("cold: import facerec + load_model, wall", statistics.median(r[0][0] for r in runs), "s", 1.5),
        ("cold: ... + detector & dlib weights (ready), wall", statistics.median(r[0][1] for r in runs), "s", 1.5),
        ("cold: whole process incl. interpreter, CPU", statistics.median(r[1] for r in runs), "s", None),
    ]


def bench_frame(model_dir: Path) -> list[tuple]:
    """identify() on 640x480 one-face frames cut from the course videos, after one warm-up."""
    import cv2

    import facerec
    from facerec.pipeline import detect_faces

    cv2.setNumThreads(1)
    model = facerec.load_model(model_dir)
    frames = list(_frames_640x480())
    facerec.identify(frames[0], model)
    wall, cpu, detect = [], [], []
    for frame in frames:
        start, start_cpu = time.perf_counter(), time.thread_time()
        faces = facerec.identify(frame, model)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
        start = time.thread_time()
        detect_faces(frame, model.config)
        detect.append(time.thread_time() - start)
        assert len(faces) >= 1
    classify_cost, cohort_cost = bench_classify(model, frames)
    return [(f"per 640x480 frame, identify, wall ({len(frames)} frames)", statistics.median(wall) * 1000, "ms",
             120),
            ("per 640x480 frame, identify, thread CPU time", statistics.median(cpu) * 1000, "ms", 120),
            ("  of which detection (CPU time)", statistics.median(detect) * 1000, "ms", None),
            ("  of which classification (CPU time)", classify_cost * 1000, "ms", None),
            ("    of which cohort normalisation (CPU time)", cohort_cost * 1000, "ms", None)]


def bench_classify(model, frames: list) -> tuple[float, float]:
    """Median CPU seconds of classify() per frame (faces already embedded), and how much of it the cohort adds:
    the same with the model's cohort removed (1000 rounds each, interleaved)."""
    from dataclasses import replace

    import numpy as np

    from facerec.cohort_norm import NO_COHORT
    from facerec.model import classify
    from facerec.pipeline import preprocess

    vectors = [np.stack([face.embedding for face in preprocess(frame, model.config)]) for frame in frames]
    bare = replace(model, cohort=NO_COHORT)
    rounds = {"cohort": [], "bare": []}
    for _ in range(1000 // len(frames) + 1):
        for name, judged in (("cohort", model), ("bare", bare)):
            start = time.thread_time()
            for faces in vectors:
                classify(faces, judged)
            rounds[name].append((time.thread_time() - start) / len(vectors))
    with_cohort, without = statistics.median(rounds["cohort"]), statistics.median(rounds["bare"])
    return with_cohort, with_cohort - without


def _frames_640x480():
    import cv2

    from facerec.imageio import iter_video_frames

    for video in ("test_0", "test_1", "test_2", "test_4", "test_6", "test_7", "test_8"):
        for _, frame in iter_video_frames(ROOT / "fixtures" / "videos" / f"{video}.mp4", range(0, 200, 8)):
            height, width = frame.shape[:2]
            side = min(width, height * 4 // 3)
            left = (width - side) // 2
            crop = frame[:, left:left + side]
            yield cv2.resize(crop, (640, 480), interpolation=cv2.INTER_AREA)


def bench_enrolment() -> tuple:
    """Enrol two people from JPEG folders (100 + 60 images of 1080p frames); time per 100 images."""
    import cv2

    from facerec.enroll import collect, train
    from facerec.imageio import iter_video_frames
    from facerec.model import save_model
    from facerec.sources import iter_samples

    with tempfile.TemporaryDirectory() as tmp:
        count = 0
        for video, name, limit in (("test_5", "vin_diesel", 100), ("test_8", "president_obama", 60)):
            folder = Path(tmp) / "people" / name
            folder.mkdir(parents=True)
            for index, frame in iter_video_frames(ROOT / "fixtures" / "videos" / f"{video}.mp4", range(limit)):
                cv2.imwrite(str(folder / f"{index:04d}.jpg"), frame)
                count += 1
        start = time.perf_counter()
        result = train(collect(iter_samples([str(Path(tmp) / "people")])))
        save_model(result.model, Path(tmp) / "model")
        elapsed = time.perf_counter() - start
    return (f"enrolment per 100 images ({count} images, 2 people)", elapsed * 100 / count, "s", 60)


if __name__ == "__main__":
    raise SystemExit(main())
