"""The model: Lotka-Volterra equations integrated with a fixed-step Runge-Kutta method."""


def load_table(path):
    """name value lines (# comments allowed) -> dict of floats."""
    values = {}
    with open(path) as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                name, value = line.split()
                values[name] = float(value)
    return values


def derivatives(prey, pred, p):
    return (p["alpha"] * prey - p["beta"] * prey * pred,
            p["delta"] * prey * pred - p["gamma"] * pred)


def rk4_step(prey, pred, p, dt):
    k1 = derivatives(prey, pred, p)
    k2 = derivatives(prey + dt / 2 * k1[0], pred + dt / 2 * k1[1], p)
    k3 = derivatives(prey + dt / 2 * k2[0], pred + dt / 2 * k2[1], p)
    k4 = derivatives(prey + dt * k3[0], pred + dt * k3[1], p)
    return (prey + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]),
            pred + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]))


def simulate(params, initial):
    prey, pred = initial["prey"], initial["predators"]
    dt, steps = initial.get("dt", 0.05), int(initial.get("steps", 400))
    series = [(0.0, prey, pred)]
    for i in range(1, steps + 1):
        prey, pred = rk4_step(prey, pred, params, dt)
        series.append((i * dt, prey, pred))
    return series


def summarize(series):
    peak_prey = max(s[1] for s in series)
    peak_pred = max(s[2] for s in series)
    t, prey, pred = series[-1]
    return (f"simulated {len(series) - 1} steps to t={t:.1f}: prey {prey:.2f}, predators {pred:.2f} "
            f"(peaks {peak_prey:.2f} / {peak_pred:.2f})")
