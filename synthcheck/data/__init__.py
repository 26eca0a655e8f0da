"""Training-side data: the CIFAKE folders (:mod:`.dataset`), per-batch augmentation
(:mod:`.augment`), the real-world perturbations (:mod:`.perturb`) and the pre-computed
perturbation bank (:mod:`.bank`)."""
