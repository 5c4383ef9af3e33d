"""A student's setup script in the course's 2024 layout, with boto3 only: buckets `<id>-input`, `<id>-stage-1`,
`<id>-output`, a role, functions `<id>-video-splitting` and `<id>-face-recognition`, the input bucket's trigger.

`python setup_2024.py [--input-suffix input] [--behaviour correct|slow|crash] [--policy full|no-output-put]
[--pad-mb N] [--peek CLASSMATE]` (run from a sample's folder; STUDENT_ID and the AWS settings come from the grader).
"""

import argparse
import io
import json
import os
import zipfile
from pathlib import Path

import boto3

FUNCTIONS = Path(__file__).parent / "functions"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-suffix", default="input")
    parser.add_argument("--behaviour", default="correct")
    parser.add_argument("--policy", default="full")
    parser.add_argument("--pad-mb", type=int, default=0, help="a dependency of N MB (unzipped) in the package")
    parser.add_argument("--peek", metavar="CLASSMATE", help="list every bucket it can see, and the classmate's")
    args = parser.parse_args()
    student = os.environ["STUDENT_ID"]
    s3, iam, lam = boto3.client("s3"), boto3.client("iam"), boto3.client("lambda")
    account = boto3.client("sts").get_caller_identity()["Account"]
    buckets = {"input": f"{student}-{args.input_suffix}", "stage": f"{student}-stage-1", "output": f"{student}-output"}
    for bucket in buckets.values():
        s3.create_bucket(Bucket=bucket)
    if args.peek:
        print("PEEK setup sees buckets:", [b["Name"] for b in s3.list_buckets()["Buckets"]])
    role = iam.create_role(RoleName=f"{student}-lambda", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"{student}-lambda", PolicyName="pipeline",
                        PolicyDocument=json.dumps(_policy(buckets, account, student, args.policy)))
    code = _package(args.pad_mb)
    recognition = lam.create_function(
        FunctionName=f"{student}-face-recognition", Runtime="python3.11", Role=role, Code={"ZipFile": code},
        Handler="face_recognition.lambda_handler", Timeout=30, MemorySize=512,
        Environment={"Variables": {"OUTPUT_BUCKET": buckets["output"], "SAMPLE_BEHAVIOUR": args.behaviour,
                                   **_peek_variables(args.peek)}})["FunctionArn"]
    splitting = lam.create_function(
        FunctionName=f"{student}-video-splitting", Runtime="python3.11", Role=role, Code={"ZipFile": code},
        Handler="video_splitting.lambda_handler", Timeout=30, MemorySize=512,
        Environment={"Variables": {"STAGE_BUCKET": buckets["stage"], "FACE_RECOGNITION_ARN": recognition}},
    )["FunctionArn"]
    lam.add_permission(FunctionName=splitting, StatementId="s3-input", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{buckets['input']}",
                       SourceAccount=account)
    s3.put_bucket_notification_configuration(Bucket=buckets["input"], NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": splitting, "Events": ["s3:ObjectCreated:*"]}]})
    print(f"deployed {student} in account {account}")


def _policy(buckets: dict[str, str], account: str, student: str, kind: str) -> dict:
    """What the functions need; `no-output-put` forgets s3:PutObject on the output bucket."""
    puts = [f"arn:aws:s3:::{buckets['stage']}/*"] + ([] if kind == "no-output-put" else
                                                     [f"arn:aws:s3:::{buckets['output']}/*"])
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject",
         "Resource": [f"arn:aws:s3:::{buckets['input']}/*", f"arn:aws:s3:::{buckets['stage']}/*"]},
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": puts},
        {"Effect": "Allow", "Action": "lambda:InvokeFunction",
         "Resource": f"arn:aws:lambda:*:{account}:function:{student}-face-recognition"},
        {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"},
    ]}


def _package(pad_mb: int) -> bytes:
    """Both handlers zipped; with pad_mb, a large (highly compressible) file beside them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(FUNCTIONS.glob("*.py")):
            archive.write(path, path.name)
        if pad_mb:
            with archive.open("vendor/model.bin", "w", force_zip64=True) as pad:
                block = bytes(1024 * 1024)
                for _ in range(pad_mb):
                    pad.write(block)
    return buffer.getvalue()


def _peek_variables(classmate: str | None) -> dict[str, str]:
    """The hostile sample's: a classmate's id, and the classmates' and the grader's files its deploy finds (each
    tried here first: `PEEK setup file PATH: read ...` or `refused ...`)."""
    if classmate is None:
        return {}
    files = _found_files()
    for path in files:
        try:
            with open(path, "rb") as handle:
                print(f"PEEK setup file {path}: read {handle.read(40)!r}")
        except OSError as exc:
            print(f"PEEK setup file {path}: refused: {type(exc).__name__}")
    return {"SAMPLE_PEEK": classmate, "SAMPLE_PEEK_FILES": os.pathsep.join(files)}


def _found_files() -> list[str]:
    """Its classmates' manifests beside its folder or beside the one on the grader's command lines (/proc), the
    files of the grader's out dir named there and of the emulator's state folders."""
    mine, class_dirs, outs = Path.cwd().resolve(), [Path("..")], []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "grader.classroom.worker" in words and "--out" in words:
            class_dirs.append(Path(words[words.index("grader.classroom.worker") + 1]).parent)
            outs.append(Path(words[words.index("--out") + 1]))
    print(f"PEEK setup grader processes listed: {len(outs)}")
    manifests = {p.resolve() for folder in class_dirs for p in folder.glob("*/grading.toml")}
    files = [p for p in manifests if p.parent != mine]
    files += [p for out in outs for p in out.glob("*/deploy.log")] + list(Path("/tmp").glob("grader-class-*/*"))
    return sorted(map(str, files))


if __name__ == "__main__":
    main()

