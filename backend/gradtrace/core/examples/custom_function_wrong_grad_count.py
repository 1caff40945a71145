# title: Error: a custom backward returning too few gradients
# description: forward took (x, slope), so backward must return two values; returning only grad_x fails.
# tags: error, autograd.Function, custom
import torch


class LeakyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return torch.where(x > 0, x, slope * x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * torch.where(x > 0, 1.0, ctx.slope)  # missing: , None for slope


x = torch.tensor([-2.0, 1.0, 3.0], requires_grad=True)
y = LeakyReLU.apply(x, 0.1)
y.sum().backward()     # RuntimeError: expected 2 gradients, got 1
