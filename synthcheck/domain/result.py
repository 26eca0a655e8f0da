"""The typed outcome of the domain check for one input."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DomainCheck:
    """``in_domain`` is False when any reason applies; each reason is one plain sentence."""

    in_domain: bool
    reasons: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    # known biases of the model that this input touches (e.g. greyscale); they inform, they do
    # not make the input out of domain
    advisories: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"in_domain": self.in_domain, "reasons": list(self.reasons), "stats": dict(self.stats),
                "advisories": list(self.advisories)}

