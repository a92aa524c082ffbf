from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from models.adamw import AdamW, AdamWSettings
from tests.conftest import REPO_ROOT


def _model(seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))


@pytest.mark.parametrize("weight_decay", [0.0, 1e-4, 1e-2])
def test_adamw_follows_torch_adamw_step_by_step(weight_decay):
    ours, theirs = _model(0), _model(0)
    # The last layer's bias gets no gradient in the first steps: torch then counts its
    # steps from its first gradient, and so must we.
    frozen_until = 3
    mine = AdamW(ours.parameters(), AdamWSettings(learning_rate=0.05, weight_decay=weight_decay))
    reference = torch.optim.AdamW(theirs.parameters(), lr=0.05, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(1)
    for step in range(12):
        x = torch.randn(8, 6, generator=generator)
        for model, optimiser in ((ours, mine), (theirs, reference)):
            optimiser.zero_grad()
            model(x).pow(2).mean().backward()
            if step < frozen_until:
                model[2].bias.grad = None
            optimiser.step()
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    start = next(_model(0).parameters())
    assert not torch.equal(next(ours.parameters()), start)


@pytest.mark.parametrize(
    "settings",
    [
        {"learning_rate": 0.0},
        {"learning_rate": 1e-3, "weight_decay": -1.0},
        {"learning_rate": 1e-3, "beta2": 1.0},
    ],
)
def test_adamw_settings_name_the_bad_value(settings):
    with pytest.raises(ValueError, match="must be"):
        AdamWSettings(**settings)


def test_training_a_head_does_not_load_torchs_compiler():
    # torch.optim's optimisers import torch._dynamo (1.3 s of CPU) in every training process.
    code = (
        "import sys\n"
        "from tests.models.test_head_and_training import _synthetic\n"
        "from models.head_config import HeadConfig\n"
        "from models.training import TrainConfig, new_head, train_head\n"
        "train_head(new_head(HeadConfig(), seed=0), _synthetic(), TrainConfig(epochs=2))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )

    assert result.stdout.strip() == "False"


def test_a_learning_rate_scale_steps_that_parameter_as_at_the_scaled_rate():
    ours, theirs = _model(0), _model(0)
    scales = [1.0, 1.0, 1.0, 20.0]  # the last layer's bias at 20 times the rate
    mine = AdamW(ours.parameters(), AdamWSettings(learning_rate=0.01), scales)
    groups = [
        {"params": list(theirs.parameters())[:3], "lr": 0.01},
        {"params": [theirs[2].bias], "lr": 0.2},
    ]
    reference = torch.optim.AdamW(groups, weight_decay=1e-2)
    generator = torch.Generator().manual_seed(1)
    for _ in range(6):
        x = torch.randn(8, 6, generator=generator)
        for model, optimiser in ((ours, mine), (theirs, reference)):
            optimiser.zero_grad()
            model(x).pow(2).mean().backward()
            optimiser.step()
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="learning-rate scales"):
        AdamW(ours.parameters(), AdamWSettings(learning_rate=0.01), [1.0])
