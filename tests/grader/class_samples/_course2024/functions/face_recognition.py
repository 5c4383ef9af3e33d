"""Stand-in `face-recognition` (the course's 2024 part 2): names the person of a frame and writes `<video>.txt`
to the output bucket. Its "model" knows the course videos by fingerprint. SAMPLE_BEHAVIOUR makes it slow or crash;
SAMPLE_PEEK makes it also try to read other students' buckets (what it finds goes to its log)."""

import glob
import os
import time

import boto3

s3 = boto3.client("s3")
OUTPUT_BUCKET = os.environ["OUTPUT_BUCKET"]
BEHAVIOUR = os.environ.get("SAMPLE_BEHAVIOUR", "correct")
MODEL = {
    "9f0cbfd72b3fe6b6": "president_trump", "6dde020f3f432a08": "president_biden", "84afb2a367244fbc": "mr_bean",
    "e60b4dc6599ffe9c": "johnny_dep", "ac9f08d7d1821524": "vin_diesel", "855ae5c9013ed4a8": "floki",
    "f3bcf1c674d770d5": "morgan_freeman", "b77362d2ad29e955": "president_obama",
}


def lambda_handler(event: dict, context: object) -> dict:
    if BEHAVIOUR == "crash":
        raise RuntimeError("sample: the model failed to load")
    if BEHAVIOUR == "slow":
        time.sleep(12)
    if os.environ.get("SAMPLE_PEEK"):
        _peek()
    fingerprint = s3.get_object(Bucket=event["bucket_name"], Key=event["image_file_name"])["Body"].read().decode()
    name = MODEL.get(fingerprint, "unknown")
    s3.put_object(Bucket=OUTPUT_BUCKET, Key=event["image_file_name"].rsplit(".", 1)[0] + ".txt", Body=name.encode())
    return {"name": name}


def _peek() -> None:
    """What a student should never see: other accounts' buckets and objects, listed or guessed from a classmate's id
    (SAMPLE_PEEK is that id)."""
    guessed = [f"{os.environ['SAMPLE_PEEK']}-{kind}" for kind in ("input", "output")]
    for bucket in [b["Name"] for b in s3.list_buckets().get("Buckets", [])] + guessed:
        try:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])][:3]
        except Exception as exc:  # noqa: BLE001 (the sample reports whatever stops it)
            keys = [f"refused: {type(exc).__name__}"]
        print(f"PEEK bucket {bucket}: {keys}")
    for path in _emulator_files() + os.environ.get("SAMPLE_PEEK_FILES", "").split(os.pathsep):
        try:
            with open(path) as handle:
                print(f"PEEK file {path}: read {handle.read(60)!r}")
        except OSError as exc:
            print(f"PEEK file {path}: refused: {type(exc).__name__}")


def _emulator_files() -> list[str]:
    """The emulator's environment (naming its state folder) and the files it has open, found through /proc."""
    paths = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as handle:
                is_emulator = b"emulator\0serve" in handle.read()
        except OSError:
            continue
        if is_emulator:
            folder = os.path.dirname(cmdline)
            paths += [f"{folder}/environ", f"{folder}/cwd/pyproject.toml"]
    print(f"PEEK emulator processes listed: {len(paths) // 2}")
    return paths
