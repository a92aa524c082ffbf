"""The reranking head: model, training and evaluation, data sets, ONNX export (no Flower here)."""
