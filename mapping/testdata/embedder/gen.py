#!/usr/bin/python3
"""Stand-in BERT-shaped text encoder for the embedding mapping tests.

Run with Debian's python3 (apt-get install python3-onnx python3-numpy) from
this folder:  /usr/bin/python3 gen.py

model.onnx: input_ids, attention_mask, token_type_ids INT64 [N, T] ->
last_hidden_state FP32 [N, T, 64], the signature of a Hugging Face BERT export
(optimum-cli export onnx --task feature-extraction). Inside: token embedding
(ids mod 997, a 997x64 table) + token type embedding, then tanh(x·W). Each
token's vector depends on its own id only; attention_mask is accepted and not
used (pooling uses it outside the model). Weights: numpy seed 7.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
H, V = 64, 997


def main():
    rng = np.random.default_rng(7)
    emb = rng.standard_normal((V, H)).astype(np.float32)
    typ = rng.standard_normal((2, H)).astype(np.float32)
    w = (rng.standard_normal((H, H)) / np.sqrt(H)).astype(np.float32)
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch_size", "sequence_length"])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", H])
    nodes = [
        helper.make_node("Mod", ["input_ids", "V"], ["ids"]),
        helper.make_node("Gather", ["emb", "ids"], ["e"]),
        helper.make_node("Gather", ["typ", "token_type_ids"], ["t"]),
        helper.make_node("Add", ["e", "t"], ["x"]),
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Tanh", ["xw"], ["last_hidden_state"]),
    ]
    inits = [
        helper.make_tensor("V", TensorProto.INT64, [], [V]),
        helper.make_tensor("emb", TensorProto.FLOAT, emb.shape, emb.flatten().tolist()),
        helper.make_tensor("typ", TensorProto.FLOAT, typ.shape, typ.flatten().tolist()),
        helper.make_tensor("W", TensorProto.FLOAT, w.shape, w.flatten().tolist()),
    ]
    g = helper.make_graph(nodes, "embedder_standin", ins, [out], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="taominer gen.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(HERE, "model.onnx"))


if __name__ == "__main__":
    main()
