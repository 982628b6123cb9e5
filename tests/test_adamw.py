"""engine.candidates.adamw: the MLP's AdamW gives bit-identical weights to torch.optim.AdamW, step by step."""

from __future__ import annotations

import pytest

from engine.candidates.adamw import AdamW

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("weight_decay", [1e-4, 0.0])
def test_adamw_matches_torch_bit_for_bit(weight_decay: float) -> None:
    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(7, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    theirs.load_state_dict(ours.state_dict())
    x, y = torch.randn(64, 7), (torch.rand(64) < 0.4).float()
    loss_fn = torch.nn.BCEWithLogitsLoss()
    plain = AdamW(torch, list(ours.parameters()), lr=3e-2, weight_decay=weight_decay)
    reference = torch.optim.AdamW(theirs.parameters(), lr=3e-2, weight_decay=weight_decay)
    initial = [p.detach().clone() for p in ours.parameters()]
    for step in range(60):
        rows = torch.arange(64)[(step * 16) % 64:(step * 16) % 64 + 16]
        plain.zero_grad()
        loss_fn(ours(x[rows]).squeeze(1), y[rows]).backward()
        plain.step()
        reference.zero_grad(set_to_none=True)
        loss_fn(theirs(x[rows]).squeeze(1), y[rows]).backward()
        reference.step()
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            assert torch.equal(a, b), f"weights differ after step {step + 1}"
    assert not any(torch.equal(a, b) for a, b in zip(ours.parameters(), initial, strict=True)), "weights moved"
