"""Inference: a trained network (checkpoint or ONNX export) → :class:`~leukodet.records.prediction.Prediction`.

One :class:`~leukodet.infer.predictor.Detector` built from one :class:`~leukodet.infer.config.InferConfig` serves
validation, ``predict``, reports, the service, the ONNX backend and the benchmarks.
"""
