"""A reviewer's page for one scanned video: `modpipe scan VIDEO --report out.html`.

One self-contained HTML file (jinja2, nothing fetched): the decision and its reasons, each
flagged category with its evidence segments (time span, modality, scorer, score, snippet), a
per-category score timeline (matplotlib, Agg backend, embedded PNG), thumbnails of the sampled
frames inside flagged spans (downscaled, embedded JPEG), and the transcript and on-screen text
with the flagged spans highlighted. Written by `report` only; it is content, so never logged.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np

from modpipe.aggregate.temporal import signal_scores
from modpipe.policy.schema import Policy
from modpipe.report.writers import write_text_atomic
from modpipe.types import Decision, Modality, Sample, ScanInput, ScanTrace, Segment

THUMB_WIDTH = 240
MAX_THUMBS = 12

TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>modpipe scan — {{ name }}</title>
<style>
 body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:24px auto;padding:0 16px;color:#222}
 h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
 .badge{display:inline-block;padding:3px 12px;border-radius:4px;color:#fff;font-weight:600;text-transform:uppercase}
 .allow{background:#2e7d32}.review{background:#ef6c00}.block{background:#c62828}
 .meta{color:#666;font-size:13px} table{border-collapse:collapse;width:100%;font-size:14px}
 td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:top}
 .thumbs{display:flex;flex-wrap:wrap;gap:10px} .thumbs figure{margin:0;font-size:12px;color:#555}
 .thumbs img{display:block;border:3px solid #c62828;border-radius:3px}
 .line{padding:2px 6px;border-radius:3px;margin:2px 0} .flag{background:#ffe0e0;border-left:4px solid #c62828}
 .t{color:#888;font-family:monospace;font-size:12px;margin-right:8px}
</style></head><body>
<h1>{{ name }} <span class="badge {{ d.action }}">{{ d.action }}</span></h1>
<div class="meta">{{ media }} · policy {{ d.provenance.policy_name }} {{ d.provenance.policy_hash[:19] }}
 · modpipe {{ d.provenance.modpipe_version }}{% if total %} · scanned in {{ total }} s{% endif %}</div>
{% if d.error %}<p><b>Input error</b> ({{ d.error.type }}): {{ d.error.message }}</p>{% endif %}
<h2>Why</h2><ul>{% for r in d.reasons %}<li>{{ r }}</li>{% else %}<li>nothing reached a review threshold</li>{% endfor %}</ul>
{% if flagged %}<h2>Evidence</h2><table><tr><th>category</th><th>time</th><th>modality</th><th>scorer</th><th>score</th><th>what</th></tr>
{% for cat, seg in flagged %}<tr><td>{{ cat }}</td><td>{{ span(seg) }}</td><td>{{ seg.modality }}</td>
<td>{{ seg.scorer }}/{{ seg.label }}</td><td>{{ "%.2f"|format(seg.score) }}</td><td>{{ seg.evidence.get("text", "") }}{% if seg.evidence.get("translated_from") %} <span class="meta">(machine translation from {{ seg.evidence["translated_from"] }})</span>{% endif %}</td></tr>{% endfor %}</table>{% endif %}
{% if plot %}<h2>Scores over time</h2><img alt="per-category score timeline" src="data:image/png;base64,{{ plot }}" style="max-width:100%">{% endif %}
{% if thumbs %}<h2>Flagged frames</h2><div class="thumbs">{% for t in thumbs %}
<figure><img alt="frame at {{ t.time }} s" src="data:image/jpeg;base64,{{ t.jpeg }}"><figcaption>{{ t.time }} s · {{ t.reason }}</figcaption></figure>{% endfor %}</div>{% endif %}
{% for title, lines in texts %}<h2>{{ title }}</h2>{% for l in lines %}
<div class="line{% if l.flag %} flag{% endif %}"><span class="t">{{ l.span }}</span>{{ l.text }}</div>{% else %}<p class="meta">none</p>{% endfor %}{% endfor %}
<h2>Scorers</h2><table>{% for n, m in d.provenance.models.items() %}<tr><td>{{ n }}</td><td>{{ m }}</td></tr>{% endfor %}
{% for s in d.scorers %}<tr><td>{{ s.scorer }}</td><td><b>{{ s.status }}</b>: {{ s.message }}</td></tr>{% endfor %}</table>
</body></html>
"""


def _span(seg: Segment | Sample) -> str:
    return "—" if seg.start is None else f"{seg.start:.2f}–{seg.end:.2f} s"


def _overlaps(a: Segment | Sample, b: Segment | Sample) -> bool:
    if a.start is None or b.start is None:
        return False
    return a.start < max(b.end, b.start + 1e-3) and b.start < max(a.end, a.start + 1e-3)


def _jpeg(rgb: np.ndarray) -> str:
    import cv2

    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])
    return base64.b64encode(buf.tobytes()).decode() if ok else ""


def timeline_png(policy: Policy, decision: Decision, trace: ScanTrace, duration: float) -> str:
    """One line per category that scored anything: at each instant, the highest score of any
    of its signals whose sample covers that instant (frames, speech and text spans alike)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=100)
    step = 0.02
    grid = np.arange(0.0, max(duration, step) + step, step)
    drawn = 0
    for name, cat in policy.categories.items():
        timed = [s for s in signal_scores(cat, trace.scores) if s.start is not None]
        if not timed or max(s.value for s in timed) < 0.05:
            continue
        ys = np.zeros_like(grid)
        for s in timed:
            cover = (grid >= s.start) & (grid < max(s.end, s.start + step))
            ys[cover] = np.maximum(ys[cover], s.value)
        ax.step(grid, ys, where="post", label=f"{name} ({decision.categories[name].action})", lw=1.8)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return ""
    th = min(c.review_at for c in policy.categories.values())
    ax.axhline(th, ls="--", c="#ef6c00", lw=1, label=f"lowest review_at {th}")
    ax.set(xlim=(0, max(duration, 0.1)), ylim=(0, 1.02), xlabel="seconds", ylabel="risk score")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def render_html(policy: Policy, decision: Decision, trace: ScanTrace) -> str:
    import jinja2

    prepared = trace.prepared or ScanInput(id=decision.id or "", input=decision.input or "")
    flagged = [(c, s) for c, r in decision.categories.items() if r.action != "allow" for s in r.segments]
    segs = [s for _, s in flagged]
    frames = [f for f in prepared.frames if any(_overlaps(f, s) for s in segs)][:MAX_THUMBS]
    thumbs = [{"time": f"{f.start:.2f}", "reason": f.meta.get("reason", ""), "jpeg": _jpeg(f.image)} for f in frames]
    texts = []
    for title, mod in (("Transcript", Modality.SPEECH), ("On-screen text", Modality.OCR)):
        lines = [{"span": _span(s), "text": (f"[{s.meta['translated_from']} → en] " if "translated_from" in s.meta else "") + s.text,
                  "flag": any(g.modality == mod.value and _overlaps(s, g) for g in segs)}
                 for s in trace.text_samples if s.modality == mod]
        texts.append((title, lines))
    info = prepared.info
    media = (f"{info.duration_s:.1f} s · {info.width}×{info.height} · {len(prepared.frames)} frames sampled"
             f" · {'audio' if info.has_audio else 'no audio'}") if info else "unreadable"
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        d=decision, name=Path(prepared.input).name, media=media, flagged=flagged, span=_span,
        total=decision.timings.get("total"), thumbs=thumbs, texts=texts,
        plot=timeline_png(policy, decision, trace, info.duration_s) if info else "",
    )


def write_html(path: str | Path, policy: Policy, decision: Decision, trace: ScanTrace) -> Path:
    write_text_atomic(path, render_html(policy, decision, trace))
    return Path(path)
