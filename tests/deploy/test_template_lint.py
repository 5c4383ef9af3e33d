"""cfn-lint finds nothing to report in template.yaml."""

import subprocess
import sys
from pathlib import Path

from tests.deploy.conftest import TEMPLATE


def test_cfn_lint_reports_nothing():
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
