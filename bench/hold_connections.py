#!/usr/bin/python3
"""Opens N idle TCP connections to 127.0.0.1:PORT, from as many loopback source addresses as
the per-address limit needs (127.0.x.y, 200 each), each with a request begun and not
finished (its request line and one header: what makes a server hold buffers for it), and
prints how much the server's resident
memory grew per connection (the PIDs' VmRSS summed: a master and its workers), then whether
an ordinary request is still answered meanwhile. bench/run-connections runs it.

Usage: hold_connections.py PORT N PID [PID...]
"""
import resource
import socket
import sys
import time

port, n, pids = int(sys.argv[1]), int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 1000, n + 1000))


def rss_kb():
    total = 0
    for pid in pids:
        with open("/proc/%d/status" % pid) as f:
            total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))
    return total


before = rss_kb()
held = []
start = time.monotonic()
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.%d.%d" % (1 + i // 200 // 250, 1 + (i // 200) % 250), 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n")
    held.append(s)
opened = time.monotonic() - start
time.sleep(2)   # the server accepts the backlog
after = rss_kb()
probe = socket.create_connection(("127.0.0.1", port), timeout=5)
probe.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
answered = probe.recv(12).startswith(b"HTTP/1.1 ")
print("%d %.2f %d %d %s" % (n, opened, before, after, "answered" if answered else "not-answered"))
