"""HTML tuning report: the metrics table plus, per category, a precision–recall curve and score
histograms (positives vs negatives, with the policy's review_at / block_at marked), drawn with
matplotlib's Agg backend and embedded as PNG data URIs so the report is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from modpipe.policy import LoadedPolicy
from modpipe.tune.evaluate import CachedSet, Outcome
from modpipe.tune.metrics import CategoryMetrics, format_confusion, format_table, in_scope


def _png(fig) -> str:  # noqa: ANN001
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _figure(cat: str, y: np.ndarray, s: np.ndarray, review_at: float, block_at: float) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    if y.any() and not y.all():
        p, r, thr = precision_recall_curve(y, s)
        ax1.plot(r, p, lw=1.5)
        for t, style in ((review_at, "o"), (block_at, "s")):
            k = np.searchsorted(thr, t)
            if k < len(thr):
                ax1.plot(r[k], p[k], style, label=f"{'review' if style == 'o' else 'block'} @ {t:g}")
        if ax1.get_legend_handles_labels()[0]:
            ax1.legend(loc="lower left", fontsize=8)
    ax1.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02), title=f"{cat}: precision–recall")
    top = min(1.0, max(float(s.max(initial=0.0)), block_at) * 1.05) or 1.0  # zoom on where scores are
    bins = np.linspace(0, top, 41)
    ax2.hist(s[~y], bins=bins, alpha=0.6, label=f"negatives ({(~y).sum()})", log=True)
    ax2.hist(s[y], bins=bins, alpha=0.6, label=f"positives ({y.sum()})", log=True)
    ax2.axvline(review_at, ls="--", c="orange", lw=1)
    ax2.axvline(block_at, ls="--", c="red", lw=1)
    ax2.set(xlabel="category score", ylabel="items (log)", title=f"{cat}: score histogram")
    ax2.legend(fontsize=8)
    uri = _png(fig)
    plt.close(fig)
    return uri


def render(cached: CachedSet, loaded: LoadedPolicy, out: Outcome, ms: list[CategoryMetrics],
           shares: dict[str, float], audience: str | None = None) -> str:
    parts = [
        "<!doctype html><meta charset='utf-8'><title>modpipe tuning report</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}pre{background:#f6f6f6;padding:8px}</style>",
        f"<h1>Tuning report — policy {html.escape(loaded.name)}</h1>",
        f"<p>policy hash <code>{loaded.hash}</code>; {len(cached)} cached items"
        + (f"; audience {html.escape(audience)}" if audience else "") + "</p>",
        "<p>overall: " + ", ".join(f"{a} {v:.1%}" for a, v in shares.items()) + " (review = the human queue)</p>",
    ]
    parts += [f"<p><b>warning:</b> {html.escape(w)}</p>" for w in out.warnings]
    parts.append(f"<h2>Per category</h2><pre>{html.escape(format_table(ms))}</pre>")
    parts.append(f"<h2>Confusion at the policy's thresholds</h2><pre>{html.escape(format_confusion(ms))}</pre>")
    for m in ms:
        j = out.categories.index(m.category)
        mask, y = in_scope(cached, m.category)
        th = loaded.policy.categories[m.category].thresholds(audience)
        parts.append(f"<h3>{html.escape(m.category)}</h3>"
                     f"<img src='{_figure(m.category, y, out.values[mask, j], th.review_at, th.block_at)}'>")
    return "\n".join(parts)
