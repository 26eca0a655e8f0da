"""Is an input like the images the checkpoint was trained on? One typed domain model.

Where each part lives:

- :mod:`.model`: :class:`DomainModel` (score a batch, judge an input) -- start here;
- :mod:`.result`: :class:`DomainCheck`, the typed outcome every face renders;
- :mod:`.inputs`: input-property checks (size, aspect ratio, graphic-like colours);
- :mod:`.features` (fit, torch) and :mod:`.knn` (score, numpy): the feature-space kNN test;
- :mod:`.jpeg_trace`: the training data's JPEG compression trace;
- :mod:`.greyscale`: the training data's greyscale imbalance, an advisory, never a reason.
"""

from .model import DomainModel, domain_model_of
from .result import DomainCheck

__all__ = ["DomainCheck", "DomainModel", "domain_model_of"]
