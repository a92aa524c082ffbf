"""AdamW for the small heads, without loading torch's compiler.

Any ``torch.optim.Optimizer`` imports ``torch._dynamo`` when it is built (its
``add_param_group`` is wrapped to be skipped by the compiler): 1.3 s of CPU and about
100 MB in every process that trains, and a device's training process trains one
29,000-parameter head. The update is Loshchilov & Hutter's (2019, Algorithm 2, with
Kingma & Ba's bias correction) in the order torch's single-tensor AdamW applies it, so the
two agree to float rounding (tests/models/test_adamw.py compares them step by step).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch


@dataclass(frozen=True, kw_only=True)
class AdamWSettings:
    learning_rate: float
    weight_decay: float = 1e-2
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")


class AdamW:
    """``zero_grad`` / ``step`` over a fixed list of parameters, like ``torch.optim.AdamW``
    with its defaults (no amsgrad, no maximize)."""

    def __init__(
        self,
        parameters: Iterable[torch.nn.Parameter],
        settings: AdamWSettings,
        learning_rate_scales: Iterable[float] | None = None,
    ):
        """``learning_rate_scales``: one multiplier of the learning rate per parameter (in
        ``parameters``' order, trainable or not; default all 1)."""
        listed = list(parameters)
        scales = [1.0] * len(listed) if learning_rate_scales is None else list(learning_rate_scales)
        if len(scales) != len(listed):
            raise ValueError(f"{len(scales)} learning-rate scales for {len(listed)} parameters")
        kept = [i for i, p in enumerate(listed) if p.requires_grad]
        self.parameters = [listed[i] for i in kept]
        self.learning_rates = [settings.learning_rate * scales[i] for i in kept]
        self.settings = settings
        # Per parameter, as torch counts them: one that had no gradient yet has taken no step.
        self.steps = [0] * len(self.parameters)
        self.first = [torch.zeros_like(p) for p in self.parameters]
        self.second = [torch.zeros_like(p) for p in self.parameters]

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        s = self.settings
        for index, (parameter, first, second, learning_rate) in enumerate(
            zip(self.parameters, self.first, self.second, self.learning_rates, strict=True)
        ):
            if parameter.grad is None:
                continue
            self.steps[index] += 1
            step_size = learning_rate / (1 - s.beta1 ** self.steps[index])
            root_correction = math.sqrt(1 - s.beta2 ** self.steps[index])
            grad = parameter.grad
            parameter.mul_(1 - learning_rate * s.weight_decay)
            first.lerp_(grad, 1 - s.beta1)
            second.mul_(s.beta2).addcmul_(grad, grad, value=1 - s.beta2)
            denominator = (second.sqrt() / root_correction).add_(s.eps)
            parameter.addcdiv_(first, denominator, value=-step_size)
