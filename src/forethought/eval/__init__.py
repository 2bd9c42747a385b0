"""Evaluation: metrics, perturbations and grounded open-loop errors.

File tree::

    metrics.py   success rates (Wilson), effective rank / PCA dims, k-step curves, baselines
                 (copy-last, linear dynamics), normalized latent error, uncertainty calibration
    perturb.py   deterministic observation / action perturbations for robustness sweeps
    grounded.py  open_loop_errors (probe-read k-step errors) and fit_state_probe
    closed_loop.py  MPC episodes in a real env: run_episode, evaluate_planning (Wilson success,
                 steps to success, planning ms), RandomAgent
    goals.py     planning to goals: TwoRoom start/goal tasks, goal agents, planning models
                 (a run or the true simulator), goal readouts (state probes), budget planners
    offline.py   forethought evaluate --data: k-step errors with baselines, sweeps, calibration
    report.py, report_figures.py  forethought report: one HTML file and Markdown, figures
"""

from forethought.eval.closed_loop import (
    EpisodeResult,
    PlanningResult,
    RandomAgent,
    evaluate_planning,
    run_episode,
)
from forethought.eval.grounded import (
    GroundedResult,
    encode_rows,
    fit_state_probe,
    open_loop_errors,
)
from forethought.eval.metrics import (
    Correlation,
    KStepCurve,
    LinearDynamicsBaseline,
    ReliabilityCurve,
    SuccessRate,
    average_ranks,
    copy_last_baseline,
    disagreement_error_correlation,
    effective_rank,
    kstep_errors,
    normalized_latent_error,
    pca_components,
    reliability_curve,
    wilson_interval,
)
from forethought.eval.perturb import (
    action_noise,
    drop_frames,
    feature_noise,
    occlude,
    pixel_noise,
)

__all__ = [
    "Correlation",
    "EpisodeResult",
    "PlanningResult",
    "RandomAgent",
    "evaluate_planning",
    "run_episode",
    "GroundedResult",
    "KStepCurve",
    "LinearDynamicsBaseline",
    "ReliabilityCurve",
    "SuccessRate",
    "action_noise",
    "average_ranks",
    "copy_last_baseline",
    "disagreement_error_correlation",
    "drop_frames",
    "effective_rank",
    "encode_rows",
    "feature_noise",
    "fit_state_probe",
    "kstep_errors",
    "normalized_latent_error",
    "occlude",
    "open_loop_errors",
    "pca_components",
    "pixel_noise",
    "reliability_curve",
    "wilson_interval",
]
