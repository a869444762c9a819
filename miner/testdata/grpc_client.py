"""An independent KServe v2 gRPC client for taominer's tests.

It uses Debian's python3-grpcio (gRPC's C core: its own HTTP/2 stack) and
encodes and decodes the protobuf messages by hand from the field numbers of
shared/spec/kserve-grpc.md, so it shares no code with the Go server or its
generated code. Usage: grpc_client.py HOST:PORT. Prints one line per check
and exits 1 on the first failure.
"""
import struct
import sys

import grpc


def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    return varint(num << 3 | wire) + payload


def string(num, s):
    b = s.encode() if isinstance(s, str) else s
    return field(num, 2, varint(len(b)) + b)


def message(num, body):
    return field(num, 2, varint(len(body)) + body)


def packed_int64(num, values):
    return message(num, b"".join(varint(v) for v in values))


def parse(buf):
    """Decodes one message level into {field: [values]} (bytes for length-delimited)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = read_varint(buf, i)
        elif wire == 2:
            n, i = read_varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        else:
            raise ValueError("wire type %d" % wire)
        out.setdefault(num, []).append(v)
    return out


def read_varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def check(name, ok, detail=""):
    if not ok:
        print("FAIL %s %s" % (name, detail))
        sys.exit(1)
    print("ok %s" % name)


def main():
    ch = grpc.insecure_channel(sys.argv[1])
    grpc.channel_ready_future(ch).result(timeout=10)

    def call(service, method, body, timeout=10):
        f = ch.unary_unary("/%s/%s" % (service, method),
                           request_serializer=lambda b: b, response_deserializer=lambda b: b)
        return f(body, timeout=timeout)

    svc = "inference.GRPCInferenceService"
    check("ServerLive", parse(call(svc, "ServerLive", b"")).get(1) == [1])
    check("ServerReady", parse(call(svc, "ServerReady", b"")).get(1) == [1])
    check("Health/Check SERVING", parse(call("grpc.health.v1.Health", "Check", b"")).get(1) == [1])
    md = parse(call(svc, "ServerMetadata", b""))
    check("ServerMetadata", md[1] == [b"taominer"] and b"statistics" in md[3], md)
    mm = parse(call(svc, "ModelMetadata", string(1, "row_sum")))
    inp = parse(mm[4][0])
    check("ModelMetadata", mm[1] == [b"row_sum"] and inp[1] == [b"x"] and inp[2] == [b"FP32"], mm)
    cfg = parse(parse(call(svc, "ModelConfig", string(1, "row_sum")))[1][0])
    check("ModelConfig", cfg[1] == [b"row_sum"] and cfg.get(4, [0])[0] > 0, cfg)

    # ModelInfer: x = [[1, 2]] as raw little-endian FP32 (field 7), as
    # tritonclient sends it; id echoed; s = [3] in raw_output_contents.
    x = message(5, string(1, "x") + string(2, "FP32") + packed_int64(3, [1, 2]))
    req = string(1, "row_sum") + string(3, "py-1") + x + message(6, string(1, "s")) + string(7, struct.pack("<2f", 1, 2))
    resp = parse(call(svc, "ModelInfer", req))
    out = parse(resp[5][0])
    check("ModelInfer raw", resp[3] == [b"py-1"] and out[1] == [b"s"] and out[2] == [b"FP32"]
          and struct.unpack("<f", resp[6][0]) == (3.0,), resp)

    # The same in typed contents: fp32_contents (field 6 of contents, field 5 of the input).
    typed = string(1, "row_sum") + message(5, string(1, "x") + string(2, "FP32") + packed_int64(3, [1, 2])
                                           + message(5, field(6, 2, varint(8) + struct.pack("<2f", 1, 2))))
    resp = parse(call(svc, "ModelInfer", typed))
    names = [parse(o)[1][0] for o in resp[5]]
    check("ModelInfer typed", struct.unpack("<f", resp[6][names.index(b"s")]) == (3.0,), resp)

    # priority as Triton clients send it: uint64_param (field 5), 0 = the default level.
    prio = message(4, string(1, "priority") + message(2, field(5, 0, varint(0))))
    resp = parse(call(svc, "ModelInfer", req + prio))
    check("ModelInfer priority uint64", struct.unpack("<f", resp[6][0]) == (3.0,), resp)

    for name, body, code in [
        ("unknown model", string(1, "nope") + x + string(7, struct.pack("<2f", 1, 2)), grpc.StatusCode.NOT_FOUND),
        ("short raw data", string(1, "row_sum") + x + string(7, struct.pack("<f", 1)), grpc.StatusCode.INVALID_ARGUMENT),
        ("raw and typed mixed", typed + string(7, struct.pack("<2f", 1, 2)), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        try:
            call(svc, "ModelInfer", body)
            check(name, False, "answered OK")
        except grpc.RpcError as e:
            check("%s -> %s" % (name, code.name), e.code() == code, "%s %s" % (e.code(), e.details()))
    try:
        call(svc, "CudaSharedMemoryStatus", b"")
        check("unimplemented", False, "answered OK")
    except grpc.RpcError as e:
        check("CudaSharedMemoryStatus -> UNIMPLEMENTED", e.code() == grpc.StatusCode.UNIMPLEMENTED, e.code())
    ch.close()


if __name__ == "__main__":
    main()
