#!/usr/bin/python3
# Generates the small test models in this folder. Run with Debian's python3 and
# its python3-onnx package (apt-get install python3-onnx):
#   /usr/bin/python3 gen_models.py
# The outputs are committed; CI does not need python.
import numpy as np
import onnx
import onnx.numpy_helper
from onnx import helper as h, TensorProto as T

def save(model, name):
    onnx.checker.check_model(model)
    onnx.save(model, name)

# fixed_affine.onnx: no batch axis. x FP32 [2,3] -> y = 2x + 1, FP32 [2,3].
g = h.make_graph(
    [h.make_node("Mul", ["x", "two"], ["x2"]), h.make_node("Add", ["x2", "one"], ["y"])],
    "fixed_affine",
    [h.make_tensor_value_info("x", T.FLOAT, [2, 3])],
    [h.make_tensor_value_info("y", T.FLOAT, [2, 3])],
    initializer=[onnx.numpy_helper.from_array(np.array(2, np.float32), "two"),
                 onnx.numpy_helper.from_array(np.array(1, np.float32), "one")])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)]); m.ir_version = 7
save(m, "fixed_affine.onnx")

# identity_all.onnx: one input per protocol datatype, each [batch,2], echoed
# to out_<type>. Exercises every dtype through JSON, binary and the batcher.
types = [("bool", T.BOOL), ("uint8", T.UINT8), ("uint16", T.UINT16), ("uint32", T.UINT32),
         ("uint64", T.UINT64), ("int8", T.INT8), ("int16", T.INT16), ("int32", T.INT32),
         ("int64", T.INT64), ("fp16", T.FLOAT16), ("fp32", T.FLOAT), ("fp64", T.DOUBLE),
         ("bf16", T.BFLOAT16), ("bytes", T.STRING)]
nodes, ins, outs = [], [], []
for n, t in types:
    nodes.append(h.make_node("Identity", ["in_" + n], ["out_" + n]))
    ins.append(h.make_tensor_value_info("in_" + n, t, ["batch", 2]))
    outs.append(h.make_tensor_value_info("out_" + n, t, ["batch", 2]))
m = h.make_model(h.make_graph(nodes, "identity_all", ins, outs), opset_imports=[h.make_opsetid("", 14)])
m.ir_version = 7
save(m, "identity_all.onnx")

# row_sum.onnx: batch axis with a variable second dim. x FP32 [batch,n] ->
# s FP32 [batch,1] (sum of each row) and y FP32 [batch,n] (x*3). Requests with
# different n cannot share a batch.
g = h.make_graph(
    [h.make_node("ReduceSum", ["x", "ax"], ["s"], keepdims=1), h.make_node("Mul", ["x", "three"], ["y"])],
    "row_sum",
    [h.make_tensor_value_info("x", T.FLOAT, ["batch", "n"])],
    [h.make_tensor_value_info("s", T.FLOAT, ["batch", 1]), h.make_tensor_value_info("y", T.FLOAT, ["batch", "n"])],
    initializer=[onnx.numpy_helper.from_array(np.array([1], np.int64), "ax"),
                 onnx.numpy_helper.from_array(np.array(3, np.float32), "three")])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)]); m.ir_version = 7
save(m, "row_sum.onnx")

def gen_row_sum_variants():
    """Variants of row_sum.onnx with the same inputs and outputs but other
    constants, for `miner simulate --miner-models`: a miner serving one of them
    answers with the reference's I/O but different values.

    row_sum_2x.onnx: x FP32 [batch,n] -> s FP32 [batch,1] (sum of each row, as
    row_sum) and y FP32 [batch,n] (x*2 instead of x*3). Scored against row_sum,
    s is exact and y is off by a third: a score of 1 - (1/3)/2 = 0.8333.
    """
    g = h.make_graph(
        [h.make_node("ReduceSum", ["x", "ax"], ["s"], keepdims=1), h.make_node("Mul", ["x", "two"], ["y"])],
        "row_sum_2x",
        [h.make_tensor_value_info("x", T.FLOAT, ["batch", "n"])],
        [h.make_tensor_value_info("s", T.FLOAT, ["batch", 1]), h.make_tensor_value_info("y", T.FLOAT, ["batch", "n"])],
        initializer=[onnx.numpy_helper.from_array(np.array([1], np.int64), "ax"),
                     onnx.numpy_helper.from_array(np.array(2, np.float32), "two")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)]); m.ir_version = 7
    save(m, "row_sum_2x.onnx")

gen_row_sum_variants()
