# title: A custom LeakyReLU with a non-tensor argument
# description: forward takes a slope; backward returns one gradient per forward input, None for the slope.
# tags: autograd.Function, custom, ctx
import torch


class LeakyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, slope=0.1):
        ctx.save_for_backward(x)
        ctx.slope = slope                 # plain Python values go on ctx directly
        return torch.where(x > 0, x, slope * x)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        grad_x = grad_out * torch.where(x > 0, 1.0, ctx.slope)
        return grad_x, None               # one entry per forward input; the slope gets None


torch.manual_seed(0)
x = torch.randn(5, requires_grad=True)
y = LeakyReLU.apply(x, 0.05)
loss = y.sum()
loss.backward()
print(x.grad)                             # 1 where x > 0, 0.05 elsewhere
