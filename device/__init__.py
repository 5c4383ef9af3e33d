"""Raspberry Pi scripts: record clips, upload them to S3, and print the results from SQS.

picamera2 is optional: it is imported only when a Picamera2Camera is created. The result message and
the keys are the contract's (`contract`).
"""

from device.camera import Camera, ClipInfo, FileCamera, Picamera2Camera, open_camera
from device.config import ClientConfig, ConsumerConfig, RecordConfig, UploadConfig
from device.consumer import Delivery, ResultsConsumer, Summary, load_expected
from device.errors import (
    CameraError,
    CameraUnavailableError,
    ConfigError,
    DeviceError,
    UploadError,
)
from device.recorder import ExpectedLabels, Recorder
from device.uploader import UploadedClip, Uploader

__all__ = [
    "Camera",
    "CameraError",
    "CameraUnavailableError",
    "ClientConfig",
    "ClipInfo",
    "ConfigError",
    "ConsumerConfig",
    "Delivery",
    "DeviceError",
    "ExpectedLabels",
    "FileCamera",
    "Picamera2Camera",
    "RecordConfig",
    "Recorder",
    "ResultsConsumer",
    "Summary",
    "UploadConfig",
    "UploadError",
    "UploadedClip",
    "Uploader",
    "load_expected",
    "open_camera",
]
