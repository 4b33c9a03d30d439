# emfile_probe.py - a broker out of file descriptors: start BROKER_BIN under
# `prlimit --nofile=256:256` (caps off), open and hold 700 connections, and
# print the broker's CPU share over 3 s (from /proc/<pid>/stat); then close
# them and stop the broker (its PID only). The log is left in WORKDIR.
#   python3 bench/emfile_probe.py build/bin/mqbroker "$(mktemp -d)"
import os, socket, subprocess, sys, time, resource
broker, d = sys.argv[1], sys.argv[2]
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
conf = os.path.join(d, 'b.conf')
open(conf, 'w').write(f"brokerName=b\nlistenPort={port}\nlistenAddress=127.0.0.1\nbrokerIP1=127.0.0.1\nstorePathRootDir={d}/store\nmappedFileSizeCommitLog=4194304\nserverMaxConnections=100000\n")
log = open(os.path.join(d, 'b.log'), 'w')
p = subprocess.Popen(['prlimit', '--nofile=256:256', broker, '-c', conf], stdout=log, stderr=log)
for _ in range(300):
    if 'boot success' in open(os.path.join(d, 'b.log')).read(): break
    time.sleep(0.05)
conns = []
for i in range(700):
    try:
        c = socket.create_connection(('127.0.0.1', port), timeout=2); conns.append(c)
    except OSError:
        break
time.sleep(1)
def ticks():
    f = open(f'/proc/{p.pid}/stat').read(); f = f[f.rindex(')') + 2:].split()
    return int(f[11]) + int(f[12])
t0, w0 = ticks(), time.time(); time.sleep(3); t1, w1 = ticks(), time.time()
print(f"{broker}: {len(conns)} connections held, broker CPU {100.0 * (t1 - t0) / os.sysconf('SC_CLK_TCK') / (w1 - w0):.1f}% of one core")
for c in conns: c.close()
p.terminate(); p.wait(timeout=20)
