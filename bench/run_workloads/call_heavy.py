"""Call-heavy pure Python: parse, validate, score and bucket records, one small function per step."""
import sys


def parse(line):
    name, value, count = line.split(",")
    return name, float(value), int(count)


def valid(rec):
    return rec[1] >= 0 and rec[2] % 7 != 3


def score(rec, weights):
    s = 0.0
    for i, w in enumerate(weights):
        s += w * ((rec[1] * (i + 1)) % 13)
    return s


def bucket(s):
    return int(s) // 10


def process(lines, weights):
    counts = {}
    for line in lines:
        rec = parse(line)
        if valid(rec):
            b = bucket(score(rec, weights))
            counts[b] = counts.get(b, 0) + 1
    return counts


def main(n):
    lines = [f"id{i},{(i * 37) % 101 / 3.0},{i}" for i in range(n)]
    weights = [0.5, 1.5, 2.0, 0.25, 1.0, 0.75, 1.25, 3.0]
    counts = process(lines, weights)
    print(sorted(counts.items())[:5], sum(counts.values()))


main(int(sys.argv[1]) if len(sys.argv) > 1 else 60000)
