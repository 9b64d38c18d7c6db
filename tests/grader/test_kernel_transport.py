"""Plain nbgrader (the course's ``nbgrader_config.py``) starts kernels on Unix sockets.

Over TCP, jupyter_client picks "free" ports by binding and releasing them; before the kernel
binds its heartbeat port, another process or the client's own outgoing connections can take
it, and the kernel prints a heartbeat traceback to stderr (seen in CI; jupyter_client#154).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="no Unix sockets")
def test_the_course_configuration_starts_kernels_on_unix_sockets():
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO / "autograder")).load_config()
    km = KernelManager(config=config)
    km.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"])
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive("x = 6 * 7", timeout=30)
        assert reply["content"]["status"] == "ok"
        info = km.get_connection_info()
        assert info["transport"] == "ipc", info
        sockets = [Path(f"{info['ip']}-{info[k]}") for k in info if k.endswith("_port")]
        assert len(sockets) == 5 and all(s.is_socket() for s in sockets), sockets
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    assert not any(s.exists() for s in sockets), "socket files left behind"
