"""How good is the model, and on what: metrics and calibration (:mod:`.metrics`), ROC/PR and
reliability curves (:mod:`.curves`), accuracy under perturbations and attacks
(:mod:`.robustness`) and the control run on bundled known-truth images (:mod:`.selfcheck`)."""
