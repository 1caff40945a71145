"""The tracing core: run a snippet under PyTorch and record its autograd graph as a Trace.

Pure Python + torch: no I/O beyond the snippet's own, no web server. Importing this package
does not import torch; `gradtrace.core.tracer` does.
"""
