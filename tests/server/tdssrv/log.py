"""The log (--log FILE): one line per event, never a secret."""

import threading
import time


# ------------------------------------------------------------------- logging

_log_lock = threading.Lock()
_log_file = None


def log(msg):
    if _log_file is None:
        return
    with _log_lock:
        _log_file.write('%s [%s] %s\n' % (
            time.strftime('%H:%M:%S'), threading.current_thread().name, msg))
        _log_file.flush()


def set_log_file(f):
    global _log_file
    _log_file = f
