# title: A custom autograd Function: MyReLU
# description: Write forward and backward yourself; the node in the graph is MyReLUBackward.
# tags: autograd.Function, custom, ctx
import torch


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)     # keep the input for backward
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0        # no gradient where the input was negative
        return grad_input


x = torch.tensor([-1.0, 2.0], requires_grad=True)
y = MyReLU.apply(x)                      # always call .apply, never forward()
y.backward(torch.tensor([1.0, 1.0]))
print(x.grad)                            # [0, 1]
