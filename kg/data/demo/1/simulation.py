"""provkg demo 1: a predator-prey simulation.

Usage: python simulation.py data1.dat data2.dat
Reads the model parameters (data1.dat) and the initial populations (data2.dat),
simulates, and writes output.dat (the time series) and output.svg (a plot)."""
import sys

from simulator import load_table, simulate, summarize
from plot import write_svg


def run_simulation(data_a, data_b):
    params = load_table(data_a)
    initial = load_table(data_b)
    return simulate(params, initial)


def save(series, path):
    with open(path, "w") as out:
        out.write("t prey predators\n")
        for t, prey, pred in series:
            out.write(f"{t:.2f} {prey:.4f} {pred:.4f}\n")


if __name__ == "__main__":
    data_a = sys.argv[1] if len(sys.argv) > 1 else "data1.dat"
    data_b = sys.argv[2] if len(sys.argv) > 2 else "data2.dat"
    series = run_simulation(data_a, data_b)
    save(series, "output.dat")
    write_svg(series, "output.svg")
    print(summarize(series))
