"""Chance-level error (1 - accuracy of uniform guessing) of the ObsScaling benchmarks
(Ruan et al. 2024; bl.datasets.load("obsscaling2024") columns), for the sigmoid link's
``chance`` parameter.

Multiple choice with k options: 1 - 1/k (MMLU, ARC-Challenge and HellaSwag have 4 options;
Winogrande and XWinograd 2). Generated answers (GSM8K exact match, HumanEval pass@1): 1.
TruthfulQA (MC2, a normalised probability over several true and false answers) has no single
chance level, so it is absent: fit its chance level as a parameter.
"""

OBSSCALING_CHANCE_ERROR = {
    "err_mmlu": 0.75,
    "err_arc_c": 0.75,
    "err_hellaswag": 0.75,
    "err_winograd": 0.5,
    "err_xwinograd": 0.5,
    "err_gsm8k": 1.0,
    "err_humaneval": 1.0,
}
