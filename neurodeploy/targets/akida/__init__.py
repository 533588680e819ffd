"""The Akida-style target: time-collapsed event-based layers on AKD1000-style NPs, ONNX artifacts."""
