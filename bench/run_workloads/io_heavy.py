"""I/O-heavy: write, read back, append to and copy many files (one user call per file)."""
import os
import shutil
import sys


def write_file(path, i):
    with open(path, "wb") as fh:
        fh.write(bytes([(i + k) % 251 for k in range(256)]) * 256)


def read_file(path):
    with open(path, "rb") as fh:
        return sum(fh.read()[::4096])


def append_log(log, line):
    with open(log, "a") as fh:
        fh.write(line + "\n")


def main(n):
    out = "io_out"
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    log = os.path.join(out, "log.txt")
    total = 0
    for i in range(n):
        p = os.path.join(out, f"f{i}.bin")
        write_file(p, i)
        total += read_file(p)
        append_log(log, f"{i} {total}")
        if i % 10 == 0:
            shutil.copy(p, p + ".bak")
    print("total", total)
    shutil.rmtree(out)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 120)
