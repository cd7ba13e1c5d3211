"""A receipt on a machine without Debian's libharfbuzz-subset0 is still a receipt.

WeasyPrint then warns (DeprecationWarning, at import) and subsets fonts with fontTools; with
warnings as errors, as in this suite, that warning used to turn every receipt into a 500.
The import happens once per process, so the machine is simulated in a fresh interpreter
whose library loader cannot find HarfBuzz-Subset.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[2]

WITHOUT_HARFBUZZ_SUBSET = textwrap.dedent(
    """
    import cffi

    load = cffi.FFI.dlopen

    def dlopen(self, name, *args, **kwargs):
        if "harfbuzz-subset" in str(name):
            raise OSError(f"cannot open shared object file: {name}")
        return load(self, name, *args, **kwargs)

    cffi.FFI.dlopen = dlopen

    import sys

    from ledger.fund.documents import _pdf

    pdf = _pdf("<html><body>收據 NT$1,000</body></html>")
    assert pdf.startswith(b"%PDF"), pdf[:20]
    ffi = sys.modules["weasyprint.text.ffi"]
    assert ffi.harfbuzz_subset is None, "the library was found after all"
    print("receipt made")
    """
)


def test_a_receipt_is_made_without_harfbuzz_subset_even_with_warnings_as_errors():
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", WITHOUT_HARFBUZZ_SUBSET],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "receipt made"
