"""Demo output: the HTML report and the one-screen summary."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from skadv.formatting import format_table


def robustness_rows(results: dict[str, Any]) -> list[list[str]]:
    return [
        [
            name,
            f"{r['clean_accuracy']:.3f}",
            f"{r['autoattack']:.3f}",
            f"{r['robust_accuracy_art']:.3f}",
            ", ".join(r["checks_flagged"]) or "none",
            f"{r['fit_seconds']:.1f}",
        ]
        for name, r in results["models"].items()
    ]


def augmentation_rows(results: dict[str, Any]) -> list[list[str]]:
    return [
        [
            name,
            f"{r['balanced_accuracy']:.3f}",
            f"{r['minority_f1']:.3f}",
            str(r["rows_added"]),
            f"{r['resample_seconds']:.1f}",
        ]
        for name, r in results["augmentation"].items()
    ]


ROBUSTNESS_HEADER = [
    "model",
    "clean accuracy",
    "robust (AutoAttack)",
    "robust (ART PGD-20)",
    "masking checks failed",
    "fit s",
]
AUGMENTATION_HEADER = [
    "augmentation",
    "balanced accuracy",
    "minority F1",
    "rows added",
    "resample s",
]


def _judge(results: dict[str, Any]) -> str:
    judge = results["config"]["judge"]
    budgets = f"{judge['steps']} iterations, {judge['n_queries']} Square queries"
    quick = " (quick budgets)" if results["config"]["quick"] else ""
    return (
        f"AutoAttack, {judge['version']} version{quick}: {', '.join(judge['attacks'])}; {budgets}"
    )


def _fidelity(results: dict[str, Any]) -> str:
    report = results["synthetic_report"]
    distances = report["column_distance"].values()
    return (
        f"mean per-column Kolmogorov-Smirnov distance {sum(distances) / len(distances):.3f} "
        f"(0 is identical); a classifier tells synthetic from real rows with AUC "
        f"{report['detection_auc']:.2f} (0.5 is indistinguishable); synthetic rows lie "
        f"{report['dcr']['ratio']:.2f} times as far from the training rows as unseen real "
        f"rows do (below 1 hints at copying); membership inference AUC "
        f"{report['membership_auc']:.2f} (0.5: the rows give no training row away); "
        f"{100 * report['memorization_rate']:.1f} % near-copies."
    )


def write_report(out: Path, results: dict[str, Any]) -> None:
    """``report.html``: the results tables and the figures, side by side with captions."""
    eps = results["config"]["eps"]
    versions = results["versions"]
    run = results["run"]
    footer = (
        f"Total time {run['seconds']:.0f} s on {run['threads']} thread(s) of {run['cpu']} "
        f"({run['cores']} cores), device {results['device']}, seed {results['seed']}, "
        f"quick={results['config']['quick']}, skadv {versions['skadv']}, "
        f"torch {versions['torch']}"
    )
    figures = "".join(
        f'<figure><img src="{name}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for name, caption in results["figures"].items()
    )
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>skadv demo report</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #aaa;padding:.3em .8em;text-align:right}}
td:first-child{{text-align:left}}figure{{margin:1.5em 0}}img{{max-width:100%}}
figcaption{{color:#555}}</style></head><body>
<h1>skadv demo</h1>
<h2>Adversarial training</h2>
<p>Digits (scikit-learn's <code>load_digits</code>, scaled to [0, 1]); one MLP architecture
trained four ways. <em>Robust accuracy</em> is the share of test digits still classified
correctly after an attacker changes every pixel by at most eps={eps} (Linf, pixels kept in
[0, 1]); it is judged by {html.escape(_judge(results))}, the evaluation robustness papers
report, and independently by ART's ProjectedGradientDescent (20 steps of 0.025). The
masking checks (a large eps must bring accuracy to zero; black-box Square must not beat
the white-box attacks; accuracy must fall with eps) name any that failed. "fit s" is the
wall-clock seconds of the model's <code>fit</code> (training only, not the evaluation),
on the threads and CPU named at the end of this page.</p>
{format_table(ROBUSTNESS_HEADER, robustness_rows(results), html=True)}
<h2>GAN augmentation</h2>
<p>A 95/5 imbalanced <code>make_classification</code> table; LogisticRegression trained on
the (augmented) training half, scored on the test half. A classifier trained on real digits
reads {100 * results["dcgan_class_agreement"]:.0f}&nbsp;% of the DCGAN's digits as the class
they were generated for.</p>
{format_table(AUGMENTATION_HEADER, augmentation_rows(results), html=True)}
<p>The GAN's synthetic minority rows, against the real minority rows they imitate and the
test split's minority rows (which the GAN never saw): {html.escape(_fidelity(results))}</p>
{figures}
<p>{html.escape(footer)}; every number is in <code>results.json</code>.</p>
</body></html>
"""
    (out / "report.html").write_text(page)


def summary(results: dict[str, Any]) -> str:
    """One screen: both tables as text, and the run's time and threads."""
    run = results["run"]
    return "\n\n".join(
        [
            format_table(ROBUSTNESS_HEADER, robustness_rows(results)),
            format_table(AUGMENTATION_HEADER, augmentation_rows(results)),
            f"{run['seconds']:.0f} s on {run['threads']} thread(s) of {run['cpu']}",
        ]
    )
