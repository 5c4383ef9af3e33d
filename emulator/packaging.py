"""Old import path of emulator/lambda_runtime/packaging.py, kept only while emulator/moto_hooks.py and
emulator/dockerfile.py still use it (issue 20): delete this file once they import `from emulator.lambda_runtime
import ...`."""

from emulator.lambda_runtime import (
    THIS_PYTHON,
    EnvironmentRecipe,
    aws_runtime_requirements,
    check_runtime,
    extract_zip,
    interpreter,
    layer_folder,
    merged_opt,
    requirement_lines,
)

__all__ = ["THIS_PYTHON", "EnvironmentRecipe", "aws_runtime_requirements", "check_runtime", "extract_zip",
           "interpreter", "layer_folder", "merged_opt", "requirement_lines"]
