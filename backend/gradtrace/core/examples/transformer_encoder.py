# title: A small TransformerEncoder, forward and backward
# description: Two encoder layers (d=32): a bigger graph whose nodes group by module path, e.g. encoder.layers.0.linear1.
# tags: nn.Module, transformer, modules
import torch
import torch.nn as nn

torch.manual_seed(0)
layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
encoder = nn.TransformerEncoder(layer, num_layers=2)  # deep-copies layer: its own weights never get grads
tokens = torch.randn(2, 5, 32)                        # batch 2, sequence 5
target = torch.randn(2, 5, 32)

out = encoder(tokens)
loss = nn.functional.mse_loss(out, target)
loss.backward()
print(out.shape, round(loss.item(), 4))
print(encoder.layers[0].linear1.weight.grad.shape, layer.linear1.weight.grad)
