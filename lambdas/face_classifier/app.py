"""Face classifier Lambda: a frame under frames/ -> who is in it -> the student record -> SQS FIFO results."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from results import ModelCache, face_outcomes, send_results, student_lookup

from contract import CLIENT_CONFIG, BadKeyError, FrameKey, Origin, Outcome, Result, utc_now
from contract.lambda_logs import CLASSIFIED_FRAME, classified_frame_fields
from facerec import FacerecError, ImageError, identify, load_image
from facerec.pipeline import load_weights

logger = Logger()
metrics = Metrics()
s3 = boto3.client("s3", config=CLIENT_CONFIG)
sqs = boto3.client("sqs", config=CLIENT_CONFIG)
models = ModelCache(s3, os.environ["MEDIA_BUCKET"], Path(tempfile.gettempdir()) / "models")
lookup = student_lookup(boto3.client("dynamodb", config=CLIENT_CONFIG), os.environ["STUDENTS_TABLE"])
RESULTS_QUEUE_URL = os.environ["RESULTS_QUEUE_URL"]


def load_in_init() -> None:
    """The expensive loading in INIT, as AWS advises, so a new environment's first event runs warm.

    A model that is missing or broken now is not fatal: it is data, published separately, and each event
    fetches the current one again (failing clearly until a good one is published).
    """
    try:
        load_weights(models.current().config)
    except FacerecError as exc:
        logger.warning("no usable model during INIT; each event will try again", extra={"reason": str(exc)})
        load_weights()


load_in_init()


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    sent = 0
    for record in S3Event(event).records:
        key = unquote_plus(record.s3.get_object.key)
        logger.append_keys(frame_key=key)
        try:
            frame = FrameKey.parse(key)
        except BadKeyError as exc:
            logger.error("ignored object", extra={"reason": str(exc)})
            continue
        sent += classify_frame(record, frame)
    return {"results": sent}


def classify_frame(record: S3EventRecord, frame: FrameKey) -> int:
    """Recognises the faces of one frame and sends one result per face; returns how many."""
    started = time.perf_counter()
    obj = s3.get_object(Bucket=record.s3.bucket.name, Key=frame.key)
    data = obj["Body"].read()
    downloaded = time.perf_counter()
    model = models.current()
    origin = Origin.of_frame(frame, obj["Metadata"], record.event_time, model.version)
    logger.append_keys(clip_key=origin.clip_key)
    try:
        outcomes = face_outcomes(identify(load_image(data), model), lookup)
    except ImageError as exc:
        outcomes = [Outcome.faceless("bad_frame", f"the frame is not a usable image: {exc}")]
    recognized = time.perf_counter()
    timings = {"download": _ms(started, downloaded), "recognize": _ms(downloaded, recognized)}
    results = [
        Result.of(origin, outcome, utc_now(), {**timings, "total": _ms(started, time.perf_counter())})
        for outcome in outcomes
    ]
    send_results(sqs, RESULTS_QUEUE_URL, results)
    logger.info(CLASSIFIED_FRAME, extra=classified_frame_fields(results))  # the console's frame strip
    metrics.add_metric(name="FacesClassified", unit=MetricUnit.Count, value=len(results))
    return len(results)


def _ms(start: float, end: float) -> float:
    return round((end - start) * 1000, 1)
