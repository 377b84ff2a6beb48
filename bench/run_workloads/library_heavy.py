"""Library-heavy: the time goes to json, zlib, hashlib, re and sorting; user code orchestrates."""
import hashlib
import json
import re
import sys
import zlib
from operator import itemgetter


TAGS = [[f"t{j}" for j in range(k)] for k in range(5)]


def make_records(n, seed):
    return [{"id": i, "name": f"item-{(i * seed) % 9973}", "tags": TAGS[i % 5],
             "value": (i * 2654435761) % 1000003 / 7.0} for i in range(n)]


def roundtrip(records):
    text = json.dumps(records, sort_keys=True)
    packed = zlib.compress(text.encode(), 6)
    back = json.loads(zlib.decompress(packed).decode())
    return len(packed), back


def digest(records):
    h = hashlib.sha256()
    for chunk in range(0, len(records), 1000):
        h.update(json.dumps(records[chunk:chunk + 1000]).encode())
    return h.hexdigest()


def find_names(records):
    text = "\n".join(r["name"] for r in records)
    return len(re.findall(r"item-(\d*7)\b", text))


def rank(records):
    return sorted(records, key=itemgetter("value", "id"))[:3]


def main(rounds, n):
    total = 0
    for seed in range(rounds):
        records = make_records(n, seed + 3)
        size, back = roundtrip(records)
        total += size + find_names(back) + len(rank(back))
        print(seed, size, digest(back)[:12])
    print("total", total)


main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, 30000)
