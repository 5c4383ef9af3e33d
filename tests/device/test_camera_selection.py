"""Choosing a camera: file:PATH, picamera2 (optional: absent here), unknown specs."""

import subprocess
import sys
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from device.camera import FileCamera, Picamera2Camera, open_camera
from device.errors import CameraError, CameraUnavailableError, DeviceError

VIDEO = Path(__file__).resolve().parents[2] / "fixtures" / "videos" / "test_4.mp4"


def test_import_device_works_without_picamera2() -> None:
    code = (
        "import sys; sys.modules['picamera2'] = None\n"
        "import device, device.__main__\n"
        "assert device.FileCamera and device.ResultsConsumer\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_asking_for_picamera2_without_it_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraUnavailableError, match=r"picamera2 is not installed.*file:PATH") as caught:
        open_camera("picamera2")
    assert isinstance(caught.value, DeviceError)


def test_file_spec_opens_a_file_camera() -> None:
    camera = open_camera(f"file:{VIDEO}", realtime=False)
    assert isinstance(camera, FileCamera)
    camera.close()


@pytest.mark.parametrize("spec", ["webcam", "usb:0", "file:", "picamera"])
def test_unknown_camera_spec_is_rejected(spec: str) -> None:
    with pytest.raises(CameraError, match="unknown camera"):
        open_camera(spec)


class FakePicamera2:
    """Stands in for the Pi camera (the one thing that cannot run here): writes a 640×480 MP4."""

    calls: ClassVar[list[str]] = []

    def create_video_configuration(self, main: dict[str, Any], controls: dict[str, Any]) -> dict[str, Any]:
        return {"main": main, "controls": controls}

    def configure(self, config: dict[str, Any]) -> None:
        self.calls.append(f"configure {config['main']['size']}")

    def start(self) -> None:
        self.calls.append("start")

    def start_encoder(self, encoder: object, output: "FakeOutput") -> None:
        writer = cv2.VideoWriter(output.path, cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (640, 480))
        for _ in range(3):
            writer.write(np.zeros((480, 640, 3), np.uint8))
        writer.release()
        self.calls.append("start_encoder")

    def stop_encoder(self) -> None:
        self.calls.append("stop_encoder")

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


class FakeOutput:
    def __init__(self, path: str) -> None:
        self.path = path


def test_picamera2_camera_drives_the_encoder_per_clip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    package = types.ModuleType("picamera2")
    package.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    encoders = types.ModuleType("picamera2.encoders")
    encoders.H264Encoder = object  # type: ignore[attr-defined]
    outputs = types.ModuleType("picamera2.outputs")
    outputs.PyavOutput = FakeOutput  # type: ignore[attr-defined]
    for name, module in {"picamera2": package, "picamera2.encoders": encoders, "picamera2.outputs": outputs}.items():
        monkeypatch.setitem(sys.modules, name, module)

    camera = Picamera2Camera()
    before = datetime.now(UTC)
    info = camera.record_clip(tmp_path / "clip.mp4", 0.1)
    camera.close()

    assert (info.width, info.height, info.frames) == (640, 480, 3)
    assert info.captured_at >= before.replace(microsecond=0)
    assert FakePicamera2.calls == ["configure (640, 480)", "start", "start_encoder", "stop_encoder", "stop", "close"]
