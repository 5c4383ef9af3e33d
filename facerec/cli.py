"""Command line: enroll, identify, evaluate, publish."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from facerec.cohort_norm import TARGET_FAR
from facerec.config import DEFAULT, Config
from facerec.detectors import DETECTORS
from facerec.errors import EnrolmentError, FacerecError
from facerec.sources import FrameWindow, Reading, Sample

if TYPE_CHECKING:
    from facerec.cohort import CohortPhotos, CohortReport
    from facerec.enroll import EnrolmentResult
    from facerec.model import FaceModel

out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False)


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; returns the exit status (1 on a facerec error)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except FacerecError as exc:
        err.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m facerec", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    enroll = commands.add_parser("enroll", help="train a model from labelled faces")
    _add_sources(enroll)
    enroll.add_argument("--out", required=True, type=Path, help="model folder to write")
    enroll.add_argument("--add", type=Path, metavar="MODEL_DIR",
                        help="add these people (or new sessions of enrolled ones) to an existing model")
    enroll.add_argument("--detector", choices=sorted(DETECTORS),
                        help=f"face detector (default {DEFAULT.detector}; with --add, the model's)")
    enroll.add_argument("--plot", type=Path, help="write the threshold evidence plot (PNG)")
    _add_cohort(enroll, "store this impostor cohort (strangers/, pairs/NAME/) with the model and calibrate "
                "against it")
    enroll.add_argument("--target-far", type=_share, default=TARGET_FAR, metavar="SHARE",
                        help="with a cohort: the share of its strangers the limit may name, cross-validated "
                        f"(default {TARGET_FAR})")
    enroll.set_defaults(run=_enroll)

    identify = commands.add_parser("identify", help="one JSON line per face found in images or videos")
    identify.add_argument("--model", required=True, type=Path)
    identify.add_argument("files", nargs="+", type=Path, metavar="FILE")
    identify.add_argument("--every", type=int, default=1, help="video: use every N-th frame")
    identify.set_defaults(run=_identify)

    evaluate = commands.add_parser("evaluate", help="accuracy, precision/recall, unknown rejection, curve")
    evaluate.add_argument("--model", required=True, type=Path)
    _add_sources(evaluate)
    evaluate.add_argument("--plot", type=Path, help="write the known-vs-unknown trade-off curve (PNG)")
    evaluate.add_argument("--json", type=Path, help="also write the summary as JSON")
    _add_cohort(evaluate, "also measure strangers named and cross-session pairs named on this cohort folder, "
                "cross-validated")
    evaluate.set_defaults(run=_evaluate)

    publish = commands.add_parser("publish", help="upload a model to S3 and point models/current.json at it")
    publish.add_argument("--model", required=True, type=Path)
    publish.add_argument("--bucket", required=True)
    publish.add_argument("--prefix", default="models")
    publish.set_defaults(run=_publish)
    return parser


def _add_cohort(parser: argparse.ArgumentParser, purpose: str) -> None:
    parser.add_argument("--cohort", type=Path, metavar="DIR", help=purpose)
    parser.add_argument("--cohort-cache", type=Path, metavar="FILE",
                        help="embeddings of the cohort's photos kept between runs (default build/facerec-cache/)")
    parser.add_argument("--det", type=Path, help="with --cohort: write the DET plot (PNG)")


def _add_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="folder of per-person folders, NAME=path, a labelled video/image, or the encoding pickle")
    parser.add_argument("--labels", type=Path, help="JSON mapping file names to person names (e.g. labels.json)")
    parser.add_argument("--session", type=Path, help="JSON mapping file or folder names to session names "
                        "(default: each video is a session, and the photos in one folder are one)")
    parser.add_argument("--frames", default=":", help="fractions of each video's frames (and of each person "
                        "folder's sorted images) to use, START:STOP; e.g. ':0.4' enrol, '0.4:' test")
    parser.add_argument("--every", type=int, default=1, help="then use every N-th of them")


def _samples(args: argparse.Namespace, config: Config) -> Iterator[Sample]:
    from facerec.sources import iter_samples

    reading = Reading(_mapping(args.labels), _mapping(args.session), FrameWindow.parse(args.frames, args.every),
                      config)
    return iter_samples(args.sources, reading)


def _mapping(path: Path | None) -> dict[str, str]:
    """A JSON object of names to names, or {} without a file; EnrolmentError naming what is wrong."""
    if path is None:
        return {}
    try:
        mapping = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EnrolmentError(f"cannot read {path}: {exc}") from exc
    if not isinstance(mapping, dict) or not all(isinstance(v, str) and v for v in mapping.values()):
        raise EnrolmentError(f"{path} must be a JSON object of file names to non-empty names")
    return mapping


def _embedding_progress() -> Progress:
    """Samples embedded so far, the file being read and the time taken (the total is not known in advance)."""
    return Progress(SpinnerColumn(), TextColumn("{task.completed} samples"), BarColumn(), TimeElapsedColumn(),
                    TextColumn("{task.description}"), console=err)


def _progress(progress: Progress, task: TaskID) -> Callable[[Sample], None]:
    def update(sample: Sample) -> None:
        frame = "" if sample.frame is None else f" frame {sample.frame}"
        progress.update(task, advance=1, description=f"embedding {Path(sample.origin).name}{frame}")

    return update


def _enroll(args: argparse.Namespace) -> int:
    from facerec.enroll import enroll
    from facerec.evidence import plot_tradeoff
    from facerec.model import load_model, save_model

    base = load_model(args.add) if args.add else None
    config = _enrol_config(args.detector, base)
    cohort = _cohort_photos(args, config) if args.cohort else None
    with _embedding_progress() as progress:
        result = enroll(args.sources, _mapping(args.labels), _mapping(args.session),
                        FrameWindow.parse(args.frames, args.every), base, config,
                        _progress(progress, progress.add_task("embedding", total=None)), cohort, args.target_far)
    _print_enrolment(result)
    if result.cohort is not None:
        _print_cohort(result.cohort, args.det, f"enrolment cohort {args.cohort or 'of ' + str(args.add)}")
    model = save_model(result.model, args.out)
    if args.plot:
        plot_tradeoff(result.distances, model.threshold, args.plot, f"enrolment evidence, model {model.version}",
                      result.evidence, model.ratio_guard)
        out.print(f"evidence plot written to {args.plot}")
    out.print(f"model {model.version} written to {args.out}")
    return 0


def _cohort_photos(args: argparse.Namespace, config: Config) -> CohortPhotos:
    from facerec.cohort import default_cache, read_cohort

    cache = args.cohort_cache or default_cache(args.cohort, config)
    with Progress(SpinnerColumn(), TextColumn("embedding cohort photo {task.description}"), console=err) as progress:
        task = progress.add_task("", total=None)
        photos = read_cohort(args.cohort, config, cache, lambda path: progress.update(task, description=path.name))
    out.print(f"cohort {args.cohort}: {len(photos.strangers)} strangers, {len(photos.pairs)} pairs "
              f"(embeddings cached in {cache}); no face in {len(photos.missing)} photos")
    return photos


def _print_cohort(report: CohortReport, det: Path | None, title: str) -> None:
    from facerec.cohort import plot_det

    rates = report.rates()
    out.print(f"cohort limit {_num(report.limit)}: {report.rule}")
    out.print(f"  strangers named {rates['strangers_named']} of {rates['strangers']} "
              f"({_pct(rates['false_accept_rate'])}, 95 % interval {_interval(rates['false_accept_rate_ci95'])}; "
              f"{rates['strangers_named_by_distance_alone']} by the distance rules alone)")
    out.print(f"  cross-session pairs named {rates['pairs_named']} of {rates['pair_trials']} "
              f"({_pct(rates['pair_genuine_rate'])}, 95 % interval {_interval(rates['pair_genuine_rate_ci95'])}; "
              f"{rates['pairs_named_by_distance_alone']} by the distance rules alone)")
    if rates["course_cross_session_samples"]:
        out.print(f"  enrolment's cross-session samples named {rates['course_cross_session_named']} of "
                  f"{rates['course_cross_session_samples']} ({rates['course_cross_session_named_by_distance_alone']} "
                  "by the distance rules alone)")
    for hub in report.hubs:
        out.print(f"  hub: {hub}")
    if det:
        plot_det(report, det, title)
        out.print(f"DET plot written to {det}")


def _share(text: str) -> float:
    """A number in (0, 1) for argparse."""
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"a share between 0 and 1, not {text}")
    return value


def _interval(bounds: list[float] | None) -> str:
    return "-" if bounds is None else f"{_pct(bounds[0])} - {_pct(bounds[1])}"


def _enrol_config(detector: str | None, base: FaceModel | None) -> Config:
    """A new model's settings, or the base model's when adding to it (same detector, same preprocessing)."""
    if base is None:
        return Config(detector=detector or DEFAULT.detector)
    if detector not in (None, base.config.detector):
        raise EnrolmentError(f"--detector {detector}: the model to add to was enrolled with {base.config.detector}")
    return base.config


def _print_enrolment(result: EnrolmentResult) -> None:
    from facerec.evidence import THRESHOLDS, tradeoff, within_ratio_limit

    table = Table("person", "used", "left out", title="enrolment")
    rejected: dict[str, list[str]] = {}
    for rejection in result.rejections:
        rejected.setdefault(rejection.label, []).append(rejection.reason)
    for label in sorted(set(result.accepted) | set(rejected)):
        reasons = rejected.get(label, [])
        summary = ", ".join(f"{n}x {r}" for r, n in Counter(r.split(" (")[0] for r in reasons).items())
        table.add_row(label, str(result.accepted.get(label, 0)), summary or "-")
    out.print(table)
    for rejection in result.rejections:
        out.print(f"  left out {rejection.origin} frame {rejection.frame}: {rejection.reason}")
    out.print("metrics: " + json.dumps(result.model.info["metrics"]))
    _print_evidence(result.model.info["evidence"])
    distances = within_ratio_limit(result.distances, result.evidence.guard)
    cross, _ = tradeoff(distances.correct[distances.cross_session], distances.genuine[distances.cross_session],
                        distances.strangers)
    same, rejection = tradeoff(distances.correct[~distances.cross_session],
                               distances.genuine[~distances.cross_session], distances.strangers)
    curve = Table("threshold", "cross-session named", "same-session named", "strangers unknown",
                  title="trade-off at the ratio limit (held-out sessions + leave-one-person-out)")
    for index in range(10, len(THRESHOLDS) * 3 // 4, 10):
        mark = " <" if abs(THRESHOLDS[index] - result.evidence.threshold) < 0.025 else ""
        curve.add_row(f"{THRESHOLDS[index]:.2f}{mark}", _pct(cross[index]), _pct(same[index]), _pct(rejection[index]))
    out.print(curve)


def _print_evidence(evidence: dict) -> None:
    """The threshold, the rule that chose it and the two tails it sits between."""
    out.print(f"threshold {evidence['threshold']:.3f}: {evidence['rule']}")
    out.print(f"  genuine tail {_num(evidence['genuine_tail'])} ({evidence['genuine_tail_from']}, "
              f"{evidence['cross_session_samples']} cross-session samples of {evidence['cross_session_people']} "
              f"people), stranger tail {_num(evidence['stranger_tail'])} (closest "
              f"{_num(evidence['closest_stranger'])} of {evidence['stranger_samples']}), prior {evidence['prior']}")
    if evidence.get("ratio_rule"):
        out.print(f"ratio limit {_num(evidence['ratio_limit'])}: {evidence['ratio_rule']}")
    if evidence.get("genuine_ratio_tail") is not None:
        out.print(f"  genuine ratio tail {_num(evidence['genuine_ratio_tail'])}, look-alike ratio tail "
                  f"{_num(evidence['look_alike_ratio_tail'])} ({evidence['look_alikes_within_distance']} strangers "
                  "within the distance threshold)")
    out.print(f"  within both limits: cross-session {_pct(evidence['cross_session_accuracy'])}, same-session "
              f"{_pct(evidence['same_session_accuracy'])} named; strangers {_pct(evidence['unknown_rejection'])} "
              "unknown")
    _print_look_alikes(evidence.get("look_alikes", []))


def _identify(args: argparse.Namespace) -> int:
    from facerec.imageio import count_frames, is_video, iter_video_frames, load_image
    from facerec.model import load_model
    from facerec.serve import identify

    model = load_model(args.model)
    failed = False
    for path in args.files:
        try:
            frames = (iter_video_frames(path, range(0, count_frames(path), args.every), model.config)
                      if is_video(path) else [(None, load_image(path, model.config))])
            for index, image in frames:
                _print_faces(path, index, identify(image, model))
        except FacerecError as exc:
            failed = True
            print(json.dumps({"file": str(path), "frame": None, "name": None,
                              "reason": f"{type(exc).__name__}: {exc}"}), flush=True)
    return 1 if failed else 0


def _print_faces(path: Path, frame: int | None, faces: list) -> None:
    if not faces:
        print(json.dumps({"file": str(path), "frame": frame, "name": None, "reason": "no face"}), flush=True)
    for face in faces:
        print(json.dumps({"file": str(path), "frame": frame, **face.to_dict()}), flush=True)


def _evaluate(args: argparse.Namespace) -> int:
    from facerec.evaluate import ServingCost, score_samples, summarise, tradeoff_inputs
    from facerec.evidence import plot_tradeoff
    from facerec.model import load_model

    model = load_model(args.model)
    cost = ServingCost()
    with _embedding_progress() as progress:
        results = score_samples(_samples(args, model.config), model,
                                _progress(progress, progress.add_task("embedding", total=None)), cost)
    summary = {**summarise(results, model), "serving_cost": cost.to_dict()}
    if "evidence" in model.info:
        out.print("enrolment evidence of the model (sessions held out at enrolment):")
        _print_evidence(model.info["evidence"])
        for session, row in model.info["metrics"]["cross_session_by_held_out_session"].items():
            out.print(f"  held-out session {session}: {_pct(row['accuracy'])} of {row['samples']} named")
    _print_summary(summary, model.labels)
    _print_cost(summary["serving_cost"], model)
    if args.cohort:
        from facerec.cohort import calibrate

        _print_cohort(calibrate(model, _cohort_photos(args, model.config), model.cohort.limit), args.det,
                      f"model {model.version} on cohort {args.cohort}")
    if args.plot:
        plot_tradeoff(tradeoff_inputs(results, model), model.threshold, args.plot,
                      f"model {model.version} on {' '.join(args.sources)} (frames {args.frames})",
                      guard=model.ratio_guard)
        out.print(f"trade-off curve written to {args.plot}")
    if args.json:
        printable = {**summary, "confusion": [[t, a, n] for (t, a), n in sorted(summary["confusion"].items())]}
        args.json.write_text(json.dumps(printable, indent=1) + "\n")
    return 0


def _print_summary(summary: dict, labels: tuple[str, ...]) -> None:
    guarded = f" for {', '.join(summary['ratio_people'])}" if summary["ratio_people"] else ""
    people = Table("person", "frames", "precision", "recall", title=f"threshold {summary['threshold']:.3f}, ratio "
                   f"limit {_num(summary['ratio_limit'])}{guarded}")
    for label, row in summary["per_person"].items():
        people.add_row(label, str(row["frames"]), _pct(row["precision"]), _pct(row["recall"]))
    out.print(people)
    sources = Table("source", "label", "majority answer", "frames", "ok")
    for origin, row in summary["sources"].items():
        sources.add_row(Path(origin).name, row["label"], row["majority"], str(row["frames"]),
                        "yes" if row["correct"] else "[red]NO[/red]")
    out.print(sources)
    answers = sorted({a for _, a in summary["confusion"]})
    confusion = Table("true \\ answered", *answers, title="confusion (frames)")
    for truth in sorted({t for t, _ in summary["confusion"]}):
        confusion.add_row(truth, *(str(summary["confusion"].get((truth, a), "")) for a in answers))
    out.print(confusion)
    majority = sum(r["correct"] for r in summary["sources"].values())
    out.print(f"accuracy {_pct(summary['accuracy'])} of {summary['known_frames']} known frames "
              f"(same-session {_pct(summary['same_session_accuracy'])} of {summary['same_session_frames']}, "
              f"cross-session {_pct(summary['cross_session_accuracy'])} of {summary['cross_session_frames']}); "
              f"{majority}/{len(summary['sources'])} sources right by majority; "
              f"no face in {summary['no_face_frames']} frames")
    out.print(f"unknown rejection: leave-one-person-out {_pct(summary['lopo_rejection'])} of "
              f"{summary['lopo_frames']} frames; given strangers {_pct(summary['given_stranger_rejection'])} "
              f"of {summary['given_strangers']}")
    _print_look_alikes(summary["look_alikes"])


def _print_cost(cost: dict, model: FaceModel) -> None:
    out.print(f"serving cost (wall time, this machine): detection {_num(cost['detect_ms_per_frame'])} ms per frame "
              f"({cost['frames']} frames), alignment + embedding {_num(cost['embed_ms_per_face'])} ms per face, "
              f"classification {_num(cost['classify_ms_per_face'])} ms per face ({cost['faces']} faces; "
              f"{len(model.gallery)} templates, cohort of {len(model.cohort.embeddings)})")


def _print_look_alikes(look_alikes: list[str]) -> None:
    """Enrolled people who, left out, were named as another within the limits."""
    for look_alike in look_alikes:
        out.print(f"  look-alike within the limits (left out, then named): {look_alike}")


def _publish(args: argparse.Namespace) -> int:
    import boto3

    from facerec.model import ARTIFACT_FILES
    from facerec.store import publish_model

    size = sum((args.model / name).stat().st_size for name in ARTIFACT_FILES if (args.model / name).is_file())
    with Progress(TextColumn("uploading {task.description}"), BarColumn(), DownloadColumn(), console=err) as progress:
        task = progress.add_task(str(args.model), total=size)
        pointer = publish_model(boto3.client("s3"), args.bucket, args.model, args.prefix,
                                lambda sent: progress.advance(task, sent))
    print(json.dumps({"bucket": args.bucket, **pointer}))
    return 0


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "-" if value is None or value != value else f"{100 * value:.1f} %"
