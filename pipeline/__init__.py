"""jimu-pipeline: 事務処理誤り reports into validated, published open data packages."""

import os

__version__ = "0.1.0"

# Arrow's allocator (mimalloc) gives memory freed back to the system after 10 ms, and a
# large build frees and takes again hundreds of megabytes a second: each page taken again
# is faulted in and zeroed by the kernel (a 1M build: 470,000-490,000 page faults kept,
# against 680,000-740,000, and 1-1.5 s of system time).
# Kept for reuse instead: no longer handed back between parts, it raised the largest
# process's peak at 1M by 2-5 %. mimalloc reads it once, when pyarrow is first imported,
# so it is set here, before any module of the package imports pyarrow; a value set by
# the user is left as it is.
os.environ.setdefault("MIMALLOC_PURGE_DELAY", "-1")
