"""Offline training of the ``risk_scorer``: Feast point-in-time training set,
scikit-learn model, ONNX export, held-out metrics, versioned publication."""
