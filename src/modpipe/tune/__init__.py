"""Policy tuning: score labelled items once, then re-decide the cached scores under any policy.

    labels.py      labelled JSONL (+ the dev-data format with label_scope) → LabelledItem
    score.py       run a policy's scorers once, batched, through the Pipeline's seams
    cache.py       Parquet score cache keyed by input hash + scorer fingerprint (atomic writes)
    evaluate.py    re-decide cached scores with the live aggregate/decide (fast path for prompts)
    metrics.py     per-category AUPRC, recall at FPR, P/R/F1 and confusion at the thresholds
    thresholds.py  choose review_at / block_at for a target on one fold, check on the other
    diff.py        which cached decisions flip between two policies
    html.py        HTML report with precision–recall curves and score histograms
"""
