"""Helper processes that must not outlive the process that started them.

The gateway's conversion and intake processes and ``x400bridge convert``'s workers are
children of one process; when that process dies -- ``kill -9`` included, which runs no
clean-up at all -- its children must die too, or they go on holding memory, files and locks
(issue 13: the workers of a killed ``convert --jobs 2`` were still alive minutes later).
"""

from __future__ import annotations

import ctypes
import os
import signal

#: prctl(2) option PR_SET_PDEATHSIG (linux/prctl.h): the signal the kernel sends this process
#: when the thread that created it exits
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux PR_SET_PDEATHSIG).

    ``parent``: the pid of the process that started this one, when known; if it is no longer
    the parent (it died before the prctl took effect and this process was adopted, by init or
    by a subreaper), this process exits at once.  Without it, adoption by init (pid 1) is the
    sign.  Elsewhere than Linux this does nothing: the pool's own shutdown only.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    adopted = os.getppid() != parent if parent is not None else os.getppid() == 1
    if adopted:
        os._exit(0)
