# title: Error: an inference-mode tensor saved for backward
# description: Tensors created under torch.inference_mode() can never join a graph that needs to save them.
# tags: error, inference_mode, no_grad
import torch

with torch.inference_mode():
    scale = torch.full((3,), 2.0)   # an inference tensor
print(scale.is_inference())

w = torch.ones(3, requires_grad=True)
y = w * scale          # RuntimeError: mul must save scale to compute w's gradient
