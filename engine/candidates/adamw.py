"""AdamW on the CPU as plain tensor arithmetic: the same update, operation for operation, as `torch.optim.AdamW`.

`torch.optim.Optimizer` imports `torch._dynamo` the first time a parameter group is added (its methods are
wrapped to disable the compiler), which on a small machine costs several seconds and about 70 MB before the
first batch of a network with a few thousand weights. The update itself is a handful of in-place tensor
operations, so the MLP applies them here in the order torch's single-tensor path does (the path torch takes for
CPU tensors: no foreach kernels there): decoupled weight decay, the two moment averages, bias corrections from
a float step count, then `addcdiv_`. The trained weights are bit-identical to torch's AdamW
(`tests/test_candidates.py` checks it step by step against `torch.optim.AdamW`).
"""

from __future__ import annotations

from typing import Any


class AdamW:
    """`torch.optim.AdamW(params, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay)` without amsgrad, on the CPU."""

    def __init__(self, torch: Any, params: list[Any], *, lr: float, weight_decay: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.weight_decay, self.betas, self.eps = float(lr), float(weight_decay), betas, eps
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [0.0] * len(self.params)  # torch keeps a float32 tensor; whole counts are exact either way

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            self.steps[i] += 1.0
            step = self.steps[i]
            data = param.data
            if self.weight_decay != 0:
                data.mul_(1 - self.lr * self.weight_decay)
            self.exp_avg[i].lerp_(grad, 1 - beta1)
            self.exp_avg_sq[i].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            bias_correction1 = 1 - beta1**step
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            denom = (self.exp_avg_sq[i].sqrt() / bias_correction2_sqrt).add_(self.eps)
            data.addcdiv_(self.exp_avg[i], denom, value=-(self.lr / bias_correction1))
