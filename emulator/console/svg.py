"""Small inline SVG plots for the console: no image library in the emulator, nothing fetched by the browser."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

WIDTH, HEIGHT = 180, 36
_BAR = Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}"/>')
_LINE = Markup('<polyline points="{}"/>')
_SVG = Markup('<svg class="spark {kind}" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
              'aria-label="{label}"><title>{label}</title>{marks}</svg>')


def sparkline(values: Sequence[float], label: str, bars: bool = True) -> Markup:
    """Bars (counts) or a line (durations) of `values`, oldest first, scaled to their maximum; `label` is the title."""
    top = max(values, default=0.0) or 1.0
    step = WIDTH / max(len(values), 1)
    scale = (HEIGHT - 2) / top
    if bars:
        marks = Markup("").join(_BAR.format(i * step, HEIGHT - v * scale, max(step - 0.6, 0.6), v * scale)
                                for i, v in enumerate(values) if v > 0)
    else:
        marks = _LINE.format(" ".join(f"{(i + 0.5) * step:.1f},{HEIGHT - v * scale:.1f}" for i, v in enumerate(values)))
    return _SVG.format(kind="bars" if bars else "line", w=WIDTH, h=HEIGHT, label=label, marks=marks)
