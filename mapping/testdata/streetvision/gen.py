#!/usr/bin/python3
"""Stand-in StreetVision model and independent pre-processing references.

Run with Debian's python3 (apt-get install python3-onnx python3-numpy
python3-pil), from this folder:  /usr/bin/python3 gen.py

Writes:
  model.onnx              pixel_values FP32 [N,3,224,224] -> logits FP32 [N,2]
                          (GlobalAveragePool, Flatten, Gemm: the real signature
                          of a Hugging Face image classifier export, 2 classes)
  config.json             id2label {0: None, 1: Roadwork} (as in an HF export)
  preprocessor_config.json ViTImageProcessor defaults: 224x224 BILINEAR,
                          rescale 1/255, mean = std = 0.5
  ref_<image>.f32.gz      the pre-processed [3,224,224] tensor, float32 LE,
                          gzip; made with Pillow + numpy the way HF's
                          ViTImageProcessor does (resize, rescale in float64
                          then float32, normalize)
  reference.json          versions, and per image the logits and P(Roadwork)
"""
import gzip
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "..", "..", "..", "kernels", "testdata", "images")

W = np.array([[2.0, -2.0], [0.5, 1.5], [-1.0, 3.0]], dtype=np.float32)  # [3 channels, 2 classes]
B = np.array([0.1, -0.2], dtype=np.float32)


def model():
    x = helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["batch_size", 3, 224, 224])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", 2])
    nodes = [
        helper.make_node("GlobalAveragePool", ["pixel_values"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W", "B"], ["logits"]),
    ]
    inits = [
        helper.make_tensor("W", TensorProto.FLOAT, W.shape, W.flatten().tolist()),
        helper.make_tensor("B", TensorProto.FLOAT, B.shape, B.tolist()),
    ]
    g = helper.make_graph(nodes, "streetvision_standin", [x], [y], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="taominer gen.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(HERE, "model.onnx"))


def preprocess(path):
    img = Image.open(path).convert("RGB").resize((224, 224), Image.BILINEAR)
    x = np.asarray(img).astype(np.float64) * (1 / 255)
    x = x.astype(np.float32)
    mean = np.array([0.5, 0.5, 0.5], dtype=np.float32)
    std = np.array([0.5, 0.5, 0.5], dtype=np.float32)
    x = (x - mean) / std
    return x.transpose(2, 0, 1).astype(np.float32)  # CHW


def main():
    model()
    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump({"architectures": ["ViTForImageClassification"],
                   "id2label": {"0": "None", "1": "Roadwork"},
                   "label2id": {"None": 0, "Roadwork": 1}}, f, indent=2)
    with open(os.path.join(HERE, "preprocessor_config.json"), "w") as f:
        json.dump({"do_normalize": True, "do_rescale": True, "do_resize": True,
                   "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "ViTImageProcessor",
                   "image_std": [0.5, 0.5, 0.5], "resample": 2,
                   "rescale_factor": 0.00392156862745098,
                   "size": {"height": 224, "width": 224}}, f, indent=2)
    ref = {"python": ".".join(map(str, __import__("sys").version_info[:3])),
           "numpy": np.__version__, "pillow": PIL.__version__, "onnx": onnx.__version__,
           "images": {}}
    for name in ["png_rgb_300x200.png", "jpeg_420_300x200.jpg"]:
        x = preprocess(os.path.join(IMAGES, name))
        stem = os.path.splitext(name)[0]
        with gzip.GzipFile(os.path.join(HERE, "ref_" + stem + ".f32.gz"), "wb", mtime=0) as f:
            f.write(x.astype("<f4").tobytes())
        pooled = x.reshape(3, -1).mean(axis=1, dtype=np.float64)
        logits = pooled @ W.astype(np.float64) + B
        p = np.exp(logits - logits.max())
        p /= p.sum()
        ref["images"][name] = {"tensor": "ref_" + stem + ".f32.gz", "logits": logits.tolist(),
                               "p_roadwork": float(p[1])}
    with open(os.path.join(HERE, "reference.json"), "w") as f:
        json.dump(ref, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
