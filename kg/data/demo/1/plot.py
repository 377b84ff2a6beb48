"""A dependency-free SVG line plot of the simulated populations."""


def _polyline(points, color):
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>'


def write_svg(series, path, width=640, height=320):
    t_max = series[-1][0] or 1.0
    y_max = max(max(s[1], s[2]) for s in series) or 1.0

    def xy(t, v):
        return 40 + (width - 60) * t / t_max, height - 30 - (height - 50) * v / y_max

    prey = [xy(t, a) for t, a, _ in series]
    pred = [xy(t, b) for t, _, b in series]
    with open(path, "w") as out:
        out.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">\n')
        out.write(f'<rect width="{width}" height="{height}" fill="white"/>\n')
        out.write(_polyline(prey, "#2a7") + "\n" + _polyline(pred, "#c33") + "\n")
        out.write('<text x="50" y="20" font-size="12" fill="#2a7">prey</text>'
                  '<text x="100" y="20" font-size="12" fill="#c33">predators</text>\n</svg>\n')
